import path from 'node:path';
import { z } from 'zod';
import { REPO_ROOT } from '@stock-mlops/platform';
import { createCsvReplayProvider } from '@stock-mlops/extract/prices/csv-replay';
import { createSyntheticProvider } from '@stock-mlops/extract/prices/synthetic';
import type { ExtractTask } from './extract_loop.ts';

/** Provider selection from environment variables (keys stay in env; never logged). */
export const ProviderEnv = z.object({
  EXTRACT_PROVIDERS: z
    .string()
    .regex(/^(csv|synthetic)(,(csv|synthetic))*$/, 'comma-separated list of: csv, synthetic')
    .default('csv'),
  EXTRACT_SYMBOLS: z
    .string()
    .regex(/^[A-Z0-9^][A-Z0-9.=-]{0,23}(,[A-Z0-9^][A-Z0-9.=-]{0,23})*$/, 'comma-separated symbols')
    .optional(),
  EXTRACT_REPLAY_PATH: z.string().default(path.join(REPO_ROOT, 'data', 'prices')),
  EXTRACT_REPLAY_SPEED: z.coerce.number().min(0).default(0),
  EXTRACT_SYNTHETIC_SEED: z.string().default('42'),
  EXTRACT_SYNTHETIC_START: z.string().default('2020-01-01'),
});
export type ProviderEnv = z.infer<typeof ProviderEnv>;

export async function buildTasks(env: ProviderEnv): Promise<ExtractTask[]> {
  const tasks: ExtractTask[] = [];
  const wanted = env.EXTRACT_SYMBOLS?.split(',');
  for (const kind of env.EXTRACT_PROVIDERS.split(',')) {
    if (kind === 'csv') {
      const p = createCsvReplayProvider({ path: env.EXTRACT_REPLAY_PATH, speed: env.EXTRACT_REPLAY_SPEED });
      const symbols = (await p.symbols()).filter((s) => !wanted || wanted.includes(s));
      for (const symbol of symbols) tasks.push({ provider: p, symbol });
    } else if (kind === 'synthetic') {
      const p = createSyntheticProvider({ seed: env.EXTRACT_SYNTHETIC_SEED, start: env.EXTRACT_SYNTHETIC_START });
      for (const symbol of wanted ?? ['SYNTH']) tasks.push({ provider: p, symbol });
    }
  }
  return tasks;
}
