/**
 * Shared helpers of the deployment tests (docker-compose.yml, Dockerfile, k8s/): locating the
 * pinned tools that k8s/tools/install.sh puts in place, rendering the kustomize overlays, loading
 * the compose file, and reading env var names, defaults and ports out of the services' source.
 *
 * A missing tool is an error (the test fails and says how to install it), never a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { opsPortFor, SERVICES } from '../../scripts/lib/supervisor.ts';

// Manifests and compose models are free-form JSON: the tests check their shape themselves.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = any;

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const TOOLS_DIR =
  process.env.DEPLOY_TOOLS_DIR ?? path.join(process.env.STOCK_MLOPS_CACHE ?? path.join(os.homedir(), '.cache', 'stock-mlops'), 'deploy-tools');
export const INSTALL_HINT = 'install the deployment test tools with `bash k8s/tools/install.sh` (CI: call it in .ci/run before the tests)';

export const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');

/** Path of a tool installed by k8s/tools/install.sh; throws with the install hint when missing. */
export function tool(name: 'kustomize' | 'compose-spec' | 'hadolint' | 'kubernetes-validate'): string {
  const p = path.join(TOOLS_DIR, 'bin', name);
  if (!existsSync(p)) throw new Error(`deploy tool "${name}" not found at ${p}: ${INSTALL_HINT}`);
  return p;
}

export function toolFile(name: string): string {
  const p = path.join(TOOLS_DIR, 'share', name);
  if (!existsSync(p)) throw new Error(`${p} not found: ${INSTALL_HINT}`);
  return p;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A clean environment for the tools, so nothing from the developer's shell leaks into the result. */
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...extra });

// ------------------------------------------------------------------------------------ services

/** Services that exist (have services/<name>/src/main.ts): each must be deployed. */
export function deployableServices(): string[] {
  return readdirSync(path.join(ROOT, 'services'))
    .filter((s) => existsSync(path.join(ROOT, 'services', s, 'src', 'main.ts')))
    .sort();
}

/** The ops HTTP ports `npm start` gives each service by default (scripts/lib/supervisor.ts opsPortFor), the single local reference. */
export function startOpsPorts(): Record<string, number> {
  return Object.fromEntries(SERVICES.map((s) => [s, opsPortFor(s)]));
}

export function startDefault(name: 'GRPC_PORT' | 'WS_PORT'): number {
  const m = new RegExp(`const ${name} = process\\.env\\.${name} \\?\\? '(\\d+)'`).exec(read('scripts/start.ts'));
  if (!m) throw new Error(`scripts/start.ts: default of ${name} not found`);
  return Number(m[1]);
}

// ------------------------------------------------------------------------ env vars in the code

// `NAME: z…`, `NAME: envPort…`, or a lower-case helper wrapping a schema (`NAME: opt(z…)`).
const ZOD_KEY = /(?:^|[{,])\s*([A-Z][A-Z0-9_]*)\s*:\s*(?:z\b|envPort\b|envBool\b|port\b|bool\b|[a-z]\w*\()(?=(.*)$)/gm;

export interface EnvDecl {
  name: string;
  /** The literal in `.default(...)`, when there is one. */
  default?: string;
  file: string;
}

/** Env var keys of zod object schemas in one source file (regex: `NAME: z....`). */
export function zodEnvKeys(rel: string): EnvDecl[] {
  const out: EnvDecl[] = [];
  for (const m of read(rel).matchAll(ZOD_KEY)) {
    const d = /^[^,]*?\.default\(\s*([^()]*?)\s*\)/.exec(m[2] ?? '');
    const lit = d?.[1]?.replace(/^['"]|['"]$/g, '');
    out.push({ name: m[1]!, file: rel, ...(lit !== undefined ? { default: /^[\d_]+$/.test(lit) ? lit.replace(/_/g, '') : lit } : {}) });
  }
  return out;
}

function tsFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Env vars BaseEnv declares (packages/platform/src/config.ts): every service reads them. */
export const baseEnvKeys = (): EnvDecl[] => zodEnvKeys('packages/platform/src/config.ts');

/**
 * Env vars a service declares in zod schemas: in every .ts under services/<name>/src, and in the
 * package modules those files import by subpath (`@stock-mlops/extract/provider_settings`).
 */
export function serviceEnvKeys(service: string): EnvDecl[] {
  const own = tsFiles(`services/${service}/src`);
  const imported = new Set<string>();
  for (const f of own) {
    for (const m of read(f).matchAll(/from '@stock-mlops\/([a-z-]+)\/([\w/-]+)'/g)) {
      const rel = `packages/${m[1]}/src/${m[2]}.ts`;
      if (existsSync(path.join(ROOT, rel))) imported.add(rel);
    }
  }
  return [...own, ...imported].flatMap(zodEnvKeys);
}

/** Env vars read directly (process.env.X, or a `..._ENV = 'X'` constant) in the given source trees. */
export function directEnvReads(dirs: string[]): Set<string> {
  const out = new Set<string>();
  for (const f of dirs.flatMap(tsFiles)) {
    const src = read(f);
    for (const m of src.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)|process\.env\[['"]([A-Z][A-Z0-9_]*)['"]\]|_ENV\s*=\s*'([A-Z][A-Z0-9_]*)'/g)) out.add((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

/** Every env var name a service's process may read: BaseEnv, its schemas, direct reads in it and the packages. */
export function knownEnv(service: string): Set<string> {
  return new Set([
    ...baseEnvKeys().map((d) => d.name),
    ...serviceEnvKeys(service).map((d) => d.name),
    ...directEnvReads([`services/${service}/src`, 'packages']),
  ]);
}

// ------------------------------------------------------------------------------------ compose

export const COMPOSE_FILE = 'docker-compose.yml';

/** docker-compose.yml as YAML (merge keys resolved, no interpolation). */
export function composeRaw(): Obj {
  return parseYaml(read(COMPOSE_FILE), { merge: true });
}

let model: Obj | undefined;
/**
 * The compose model as `docker compose config` computes it (compose-go: schema validation,
 * interpolation with the defaults, merge keys, consistency checks). A clean environment, so
 * every `${VAR:-default}` takes its default.
 */
export function composeModel(): Obj {
  if (model) return model;
  const r = run(tool('compose-spec'), ['--format', 'json', COMPOSE_FILE], { env: cleanEnv() });
  if (r.code !== 0) throw new Error(`compose-go rejected ${COMPOSE_FILE}:\n${r.stderr}${r.stdout}`);
  model = JSON.parse(r.stdout) as Obj;
  return model;
}

/** Application services of the compose file: the ones built from the repository's Dockerfile. */
export function composeAppServices(m: Obj): Record<string, Obj> {
  return Object.fromEntries(Object.entries(m.services as Record<string, Obj>).filter(([, s]) => s.build?.dockerfile === 'Dockerfile'));
}

// ---------------------------------------------------------------------------------- kustomize

const renders = new Map<string, Obj[]>();
const rawRenders = new Map<string, string>();

/** The YAML text `render(overlay)` parsed. */
export function renderText(overlay: string): string {
  render(overlay);
  return rawRenders.get(overlay)!;
}

/** `kustomize build k8s/overlays/<name>` (the pinned kustomize; else `kubectl kustomize`), parsed. */
export function render(overlay: string): Obj[] {
  const cached = renders.get(overlay);
  if (cached) return cached;
  const dir = path.join('k8s', 'overlays', overlay);
  let r: { code: number; stdout: string; stderr: string };
  const pinned = path.join(TOOLS_DIR, 'bin', 'kustomize');
  if (existsSync(pinned)) r = run(pinned, ['build', dir], { env: cleanEnv() });
  else if (run('sh', ['-c', 'command -v kubectl']).code === 0) {
    console.warn(`  (kustomize not at ${pinned}; using kubectl kustomize)`);
    r = run('kubectl', ['kustomize', dir], { env: cleanEnv() });
  } else throw new Error(`neither kustomize (${pinned}) nor kubectl is available: ${INSTALL_HINT}`);
  if (r.code !== 0) throw new Error(`kustomize build ${dir} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout).map((d) => {
    if (d.errors.length) throw new Error(`kustomize output of ${dir} is not valid YAML: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  });
  renders.set(overlay, docs);
  rawRenders.set(overlay, r.stdout);
  return docs;
}

export const OVERLAYS = ['dev', 'prod'] as const;

export const ofKind = (docs: Obj[], kind: string): Obj[] => docs.filter((d) => d.kind === kind);
export const named = (docs: Obj[], kind: string, name: string): Obj | undefined => docs.find((d) => d.kind === kind && d.metadata?.name === name);

/** Our service Deployments: the ones running the stock-mlops image. */
export function appDeployments(docs: Obj[]): Obj[] {
  return ofKind(docs, 'Deployment').filter((d) => (d.spec.template.spec.containers as Obj[]).some((c) => /(^|\/)stock-mlops(:|$)/.test(c.image)));
}

/** Effective env var names and literal values of a container (envFrom ConfigMaps resolved). */
export function containerEnv(docs: Obj[], c: Obj): Map<string, { value?: string; secret?: { name: string; key: string; optional: boolean }; field?: string }> {
  const out = new Map<string, { value?: string; secret?: { name: string; key: string; optional: boolean }; field?: string }>();
  for (const src of (c.envFrom ?? []) as Obj[]) {
    if (!src.configMapRef) throw new Error(`container ${c.name}: only configMapRef is expected in envFrom`);
    const cm = named(docs, 'ConfigMap', src.configMapRef.name);
    if (!cm) throw new Error(`container ${c.name}: envFrom ConfigMap ${src.configMapRef.name} is not rendered`);
    for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, { value: String(v) });
  }
  for (const e of (c.env ?? []) as Obj[]) {
    if (e.valueFrom?.secretKeyRef) {
      const s = e.valueFrom.secretKeyRef;
      out.set(e.name, { secret: { name: s.name, key: s.key, optional: s.optional === true } });
    } else if (e.valueFrom?.fieldRef) out.set(e.name, { field: e.valueFrom.fieldRef.fieldPath });
    else out.set(e.name, { value: String(e.value ?? '') });
  }
  return out;
}

/** Selector matches labels (matchLabels or a plain map). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
