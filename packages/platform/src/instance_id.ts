import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { AppError } from './errors.ts';

/**
 * A process's stable instance id: it names the consumer groups that must be one per replica
 * (broadcast groups), so it has to survive restarts, or every restart leaves a group behind.
 *
 * Resolution, first match wins:
 *  1. `INSTANCE_ID` (or a service's own alias, e.g. `PREDICTOR_INSTANCE_ID`);
 *  2. in Kubernetes (`KUBERNETES_SERVICE_HOST` set), `HOSTNAME`: the pod name (a StatefulSet's is
 *     stable; a Deployment's changes with each pod, whose groups the broker expires after
 *     `offsets.retention.minutes`);
 *  3. `<host>-<service>-<slot>`: the lowest slot number that no live process of this service, host
 *     and topic prefix holds. A slot is a file `<dir>/<prefix><service>.<slot>.pid` created
 *     exclusively and holding the pid; a slot whose pid is gone (a crash, kill -9) is taken over.
 *     A restarted process thus gets its old id back, and two processes on one host get two.
 */
export class InstanceIdError extends AppError<'E_INSTANCE_ID'> {
  constructor(message: string, cause?: unknown) {
    super('E_INSTANCE_ID', message, { cause });
    this.name = 'InstanceIdError';
  }
}

export const INSTANCE_ID_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_SLOTS = 1024;

export interface InstanceId {
  id: string;
  /** Where it came from: the environment, the pod name, or a local slot file. */
  source: 'env' | 'pod' | 'slot';
  /** Gives the slot back (no-op for the other sources); also done at process exit. */
  release: () => void;
}

export interface InstanceIdOptions {
  service: string;
  env: NodeJS.ProcessEnv;
  /** Env variable names checked before `INSTANCE_ID` (a service's older alias). */
  aliases?: readonly string[];
  /** Directory of the slot files. */
  dir: string;
  /** Scopes the slots (the topic prefix: two stacks on one host count their slots apart). */
  scope?: string;
  host?: string;
  /** Whether a pid is alive (replaced in tests). */
  alive?: (pid: number) => boolean;
}

/** Letters, digits, `_` and `-` only (a group or file name), at most 64 characters. */
export function sanitizeId(s: string): string {
  return s.replace(/[^a-zA-Z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64) || 'host';
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function resolveInstanceId(opts: InstanceIdOptions): InstanceId {
  const none = () => {};
  for (const name of [...(opts.aliases ?? []), 'INSTANCE_ID']) {
    const v = opts.env[name];
    if (v === undefined || v === '') continue;
    if (!INSTANCE_ID_RE.test(v)) throw new InstanceIdError(`${name} must match ${INSTANCE_ID_RE.source}`);
    return { id: v, source: 'env', release: none };
  }
  if (opts.env.KUBERNETES_SERVICE_HOST && opts.env.HOSTNAME) return { id: sanitizeId(opts.env.HOSTNAME), source: 'pod', release: none };
  return claimSlot(opts);
}

function claimSlot(opts: InstanceIdOptions): InstanceId {
  const alive = opts.alive ?? pidAlive;
  const host = sanitizeId(opts.host ?? hostname()).slice(0, 40);
  const service = sanitizeId(opts.service);
  try {
    mkdirSync(opts.dir, { recursive: true });
  } catch (err) {
    throw new InstanceIdError(`cannot create the instance slot directory ${opts.dir}; set INSTANCE_ID`, err);
  }
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const file = path.join(opts.dir, `${sanitizeId(`${opts.scope ?? ''}${service}`)}.${slot}.pid`);
    if (!tryCreate(file, alive)) continue;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      try {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
      } catch {
        // Already gone: nothing to give back.
      }
    };
    process.on('exit', release);
    return { id: `${host}-${service}-${slot}`, source: 'slot', release };
  }
  throw new InstanceIdError(`no free instance slot for ${service} in ${opts.dir}; set INSTANCE_ID`);
}

/** Creates the slot file with our pid, taking it over when its pid is dead; false when a live process holds it. */
function tryCreate(file: string, alive: (pid: number) => boolean): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new InstanceIdError(`cannot write the instance slot ${file}; set INSTANCE_ID`, err);
    }
    let pid = Number.NaN;
    try {
      pid = Number(readFileSync(file, 'utf8').trim());
    } catch {
      // Removed meanwhile: try again.
    }
    // A file still being written reads empty: treat it as held.
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) return false;
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      unlinkSync(file);
    } catch {
      // Another process took it over first; the exclusive create below decides.
    }
  }
  return false;
}
