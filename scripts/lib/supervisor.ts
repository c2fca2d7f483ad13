/**
 * A small process supervisor: starts each service as its own Node process, prefixes its log
 * lines with the service name, restarts it (with backoff) when it dies unexpectedly, and stops
 * everything cleanly (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const SERVICES = ['extractor', 'transformer', 'loader', 'trainer', 'predictor', 'monitor', 'dashboard'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** `npm start`'s first ops port (extractor); the others follow in SERVICES order. Compose and k8s use the same numbers. */
export const DEFAULT_OPS_PORT_BASE = 9101;

/** A service's ops port (`/healthz`, `/readyz`, `/metrics`) for a base; base 0 = any free port. */
export function opsPortFor(name: ServiceName, base = DEFAULT_OPS_PORT_BASE): number {
  return base === 0 ? 0 : base + SERVICES.indexOf(name);
}

export interface ServiceSpec {
  name: string;
  /** Entry file relative to the repo root. */
  entry: string;
  env?: NodeJS.ProcessEnv;
}

export interface SupervisorOptions {
  env: NodeJS.ProcessEnv;
  /** Called with every log line (already prefixed); default: write to stdout. */
  onLine?: (service: string, line: string) => void;
  /** Also write each service's raw log to `<logDir>/<name>.log`. */
  logDir?: string;
  restart?: boolean;
  colors?: boolean;
}

interface Running {
  spec: ServiceSpec;
  child: ChildProcess;
  restarts: number;
  exited: Promise<number | null>;
  log?: WriteStream;
}

const COLORS = [36, 33, 35, 32, 34, 31, 90];

export class Supervisor {
  private readonly running = new Map<string, Running>();
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {}

  start(spec: ServiceSpec): void {
    const prev = this.running.get(spec.name);
    const restarts = prev ? prev.restarts + 1 : 0;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, spec.entry)], {
      cwd: REPO_ROOT,
      env: { ...this.opts.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = prev?.log;
    if (this.opts.logDir && !log) {
      mkdirSync(this.opts.logDir, { recursive: true });
      log = createWriteStream(path.join(this.opts.logDir, `${spec.name}.log`), { flags: 'a' });
    }
    const idx = [...this.running.keys(), spec.name].indexOf(spec.name);
    const color = COLORS[idx % COLORS.length];
    const prefix = this.opts.colors ? `\u001b[${color}m${spec.name.padEnd(11)}|\u001b[0m ` : `${spec.name.padEnd(11)}| `;
    const emit = (line: string) => {
      log?.write(`${line}\n`);
      if (this.opts.onLine) this.opts.onLine(spec.name, line);
      else process.stdout.write(`${prefix}${line}\n`);
    };
    createInterface({ input: child.stdout! }).on('line', emit);
    createInterface({ input: child.stderr! }).on('line', emit);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const entry: Running = { spec, child, restarts, exited, ...(log ? { log } : {}) };
    this.running.set(spec.name, entry);
    void exited.then((code) => {
      if (this.stopping || this.running.get(spec.name) !== entry) return;
      emit(`[supervisor] ${spec.name} exited with code ${code}`);
      if (this.opts.restart !== false) {
        const delay = Math.min(10_000, 500 * 2 ** Math.min(restarts, 5));
        emit(`[supervisor] restarting ${spec.name} in ${delay} ms`);
        setTimeout(() => {
          if (!this.stopping) this.start(spec);
        }, delay).unref();
      }
    });
  }

  pid(name: string): number | undefined {
    return this.running.get(name)?.child.pid;
  }

  /** SIGKILL one service (chaos tests); the supervisor restarts it when `restart` is on. */
  kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    this.running.get(name)?.child.kill(signal);
  }

  async stopOne(name: string, graceMs = 15_000): Promise<void> {
    const r = this.running.get(name);
    if (!r) return;
    this.running.delete(name);
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill('SIGTERM');
      const t = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
      await r.exited;
      clearTimeout(t);
    }
    r.log?.end();
  }

  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    // Stop in reverse start order: consumers of a stage before its producers.
    await Promise.all([...this.running.keys()].reverse().map((n) => this.stopOne(n, graceMs)));
  }
}

export function serviceSpec(name: ServiceName, env: NodeJS.ProcessEnv = {}): ServiceSpec {
  return { name, entry: `services/${name}/src/main.ts`, env };
}
