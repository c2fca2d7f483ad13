import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ExtractError } from './errors.ts';

/**
 * Where extractors remember how far they got, per (provider, symbol). Implementations: in
 * memory (tests, one-shot runs), a JSON file (single process); the extractor service and
 * `npm run etl` use the MongoDB store of mongo_cursor_store.ts (cursor and log positions).
 */
export interface CursorStore {
  get(provider: string, symbol: string): Promise<string | undefined>;
  set(provider: string, symbol: string, cursor: string): Promise<void>;
}

type CursorMap = Record<string, Record<string, string>>;

const KEY_RE = /^[A-Za-z0-9^][A-Za-z0-9._=^-]{0,99}$/;

/** Provider names and symbols become object keys in the file: refuse anything odd (`__proto__`). */
function assertKeys(provider: string, symbol: string): void {
  if (!KEY_RE.test(provider) || !KEY_RE.test(symbol) || provider.startsWith('__') || symbol.startsWith('__')) {
    throw new ExtractError('E_CURSOR', `invalid cursor key "${provider}"/"${symbol}"`);
  }
}

export function createMemoryCursorStore(initial: CursorMap = {}): CursorStore & { snapshot(): CursorMap } {
  const data = new Map<string, Map<string, string>>();
  for (const [p, bySymbol] of Object.entries(initial)) data.set(p, new Map(Object.entries(bySymbol)));
  return {
    async get(provider, symbol) {
      return data.get(provider)?.get(symbol);
    },
    async set(provider, symbol, cursor) {
      assertKeys(provider, symbol);
      let m = data.get(provider);
      if (!m) data.set(provider, (m = new Map()));
      m.set(symbol, cursor);
    },
    snapshot() {
      const out: CursorMap = {};
      for (const [p, m] of data) out[p] = Object.fromEntries(m);
      return out;
    },
  };
}

interface CursorFile {
  version: 1;
  cursors: CursorMap;
}

/**
 * Cursors in one JSON file: `{ "version": 1, "cursors": { provider: { symbol: cursor } } }`.
 * Every `set` rewrites the file atomically (write a temp file, fsync, rename), so a crash leaves
 * either the old or the new file, never a torn one. Writes are serialized within the process; do
 * not share the file between processes. A corrupt file is an error (E_CURSOR), not a silent reset.
 */
export function createJsonFileCursorStore(path: string): CursorStore {
  let loaded: Promise<CursorMap> | undefined;
  let writes: Promise<void> = Promise.resolve();

  async function load(): Promise<CursorMap> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new ExtractError('E_IO', `cannot read cursor file ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const parsed = JSON.parse(text) as Partial<CursorFile>;
      if (parsed.version !== 1 || typeof parsed.cursors !== 'object' || parsed.cursors === null) {
        throw new Error('expected {"version":1,"cursors":{...}}');
      }
      return parsed.cursors;
    } catch (err) {
      throw new ExtractError('E_CURSOR', `cursor file ${path} is corrupt: ${(err as Error).message}`, { cause: err });
    }
  }

  const state = () => (loaded ??= load());

  async function persist(cursors: CursorMap): Promise<void> {
    const body = JSON.stringify({ version: 1, cursors } satisfies CursorFile, null, 2);
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(path), { recursive: true });
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(body, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new ExtractError('E_IO', `cannot write cursor file ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  return {
    async get(provider, symbol) {
      const cursors = await state();
      const bySymbol = Object.hasOwn(cursors, provider) ? cursors[provider] : undefined;
      return bySymbol && Object.hasOwn(bySymbol, symbol) ? bySymbol[symbol] : undefined;
    },
    async set(provider, symbol, cursor) {
      assertKeys(provider, symbol);
      const write = writes.then(async () => {
        const cursors = await state();
        cursors[provider] = { ...cursors[provider], [symbol]: cursor };
        await persist(cursors);
      });
      writes = write.catch(() => undefined);
      return write;
    },
  };
}
