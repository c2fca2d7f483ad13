import { AppError, type ModelEvent } from '@stock-mlops/contracts';
import { CHALLENGER_ALIAS, PRODUCTION_ALIAS, type ModelStore } from './model_store.ts';

/**
 * The `challenger` alias: at most one per model name, next to `production`. The predictor scores
 * the challenger in the shadow of production (its predictions go to the shadow topic, never to
 * clients); promoting it to production clears the alias (`ModelStore.setAlias`; the live
 * promotion's compare-and-set is `ModelStore.promoteChallenger`). Every change returns the model
 * events to publish; transports stay in the callers.
 */
export type ChallengerErrorCode = 'E_CHALLENGER_IS_PRODUCTION';

export class ChallengerError extends AppError<ChallengerErrorCode> {
  constructor(code: ChallengerErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, { ...(details ? { details } : {}) });
    this.name = 'ChallengerError';
  }
}

/** The challenger's version, if the model has one. */
export async function challengerVersion(store: ModelStore, name: string): Promise<number | undefined> {
  return (await store.getAlias(name, CHALLENGER_ALIAS))?.version;
}

/** Point `challenger` at a registered version other than production's; returns the `challenger_set` event. */
export async function setChallenger(store: ModelStore, name: string, version: number, reason: string): Promise<ModelEvent> {
  const v = await store.get(name, version);
  const production = await store.getAlias(name, PRODUCTION_ALIAS);
  if (production?.version === version) throw new ChallengerError('E_CHALLENGER_IS_PRODUCTION', `${name}@${version} is already in production`);
  const { previous } = await store.setAlias(name, CHALLENGER_ALIAS, version, reason);
  return { kind: 'challenger_set', model: { name, version }, task: v.task, alias: CHALLENGER_ALIAS, reason, ...(previous !== undefined && previous !== version ? { previous: { name, version: previous } } : {}) };
}

/** Remove the challenger; returns the `challenger_cleared` event, or undefined when there was none. */
export async function clearChallenger(store: ModelStore, name: string, reason: string): Promise<ModelEvent | undefined> {
  const cur = await store.getAlias(name, CHALLENGER_ALIAS);
  if (!cur) return undefined;
  if (!(await store.deleteAlias(name, CHALLENGER_ALIAS, cur.version))) return undefined; // cleared or moved meanwhile
  const v = await store.get(name, cur.version);
  return { kind: 'challenger_cleared', model: { name, version: cur.version }, task: v.task, alias: CHALLENGER_ALIAS, reason };
}

/** The `challenger_cleared` event for a version that `setAlias(production)` took from the challenger alias. */
export function clearedByPromotion(name: string, task: ModelEvent['task'], version: number): ModelEvent {
  return { kind: 'challenger_cleared', model: { name, version }, task, alias: CHALLENGER_ALIAS, reason: 'promoted to production' };
}
