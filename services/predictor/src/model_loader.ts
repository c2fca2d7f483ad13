import type { ModelRef } from '@stock-mlops/contracts';
import type { Logger } from '@stock-mlops/platform';
import { PRICE_MODEL_NAME, SENTIMENT_MODEL_NAME } from '@stock-mlops/ml/inference/oip';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { ServingSentimentModel } from '@stock-mlops/ml/inference/sentiment';
import { CHALLENGER_ALIAS, PRODUCTION_ALIAS, type ModelArtifacts, type ModelStore, type ModelVersion } from '@stock-mlops/ml/registry/model_store';
import { PriceModel } from '@stock-mlops/ml/models/price_predictor';
import { modelKind } from '@stock-mlops/ml/registry/price_baseline';
import type { Tf } from '@stock-mlops/ml/tf';
import { PredictError, type PredictorCore } from '@stock-mlops/ml/inference/predictor_core';

export { PRICE_MODEL_NAME, SENTIMENT_MODEL_NAME };
export const SERVED_MODELS = [PRICE_MODEL_NAME, SENTIMENT_MODEL_NAME] as const;
export type ServedModelName = (typeof SERVED_MODELS)[number];

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'E_MODEL_LOAD';
}

export interface SyncResult {
  model: ServedModelName;
  swapped: boolean;
  version?: number;
  error?: string;
}

export interface CatalogHooks {
  onSwap?: (v: ModelVersion, previous: number | undefined) => void;
  onLoadFailure?: (model: ServedModelName, version: number, code: string) => void;
  /**
   * How a price model version becomes servable (not yet warmed up): in this thread by default,
   * or in the inference worker (`InferenceWorker.loadPrice`, PREDICT_WORKER=1).
   */
  loadPrice?: (ref: ModelRef, artifacts: ModelArtifacts) => Promise<ServingPriceModel>;
}

/**
 * Loads models from the registry and hot-swaps them: the production version is loaded and
 * warmed up in the background, then switched in atomically. If loading or the warm-up fails,
 * the current version keeps serving, the failure is reported (hook → log + metric) and that
 * version is not retried (a fixed model is registered as a new version).
 */
export class ModelCatalog {
  private loading: Promise<unknown> = Promise.resolve();
  private readonly failed = new Map<ServedModelName, Set<number>>();
  private readonly failedChallengers = new Set<number>();

  constructor(
    private readonly store: ModelStore,
    private readonly core: PredictorCore,
    private readonly tf: Tf,
    private readonly log: Logger,
    private readonly hooks: CatalogHooks = {},
  ) {}

  /** Bring every served model to its production version. Serialized: one load at a time. */
  syncProduction(reason: string, models: readonly ServedModelName[] = SERVED_MODELS): Promise<SyncResult[]> {
    const run = this.loading.then(async () => {
      const out: SyncResult[] = [];
      for (const m of models) out.push(await this.syncOne(m, reason));
      return out;
    });
    this.loading = run.catch(() => {});
    return run;
  }

  private servedVersion(name: ServedModelName): number | undefined {
    return name === PRICE_MODEL_NAME ? this.core.serving?.ref.version : this.core.sentiment?.ref.version;
  }

  /**
   * Bring the price challenger in line with the registry's `challenger` alias: load and warm up a
   * new one, or drop it when the alias is gone or now names the production version. Serialized
   * with the production loads. A version that failed to load, or was dropped for failing in
   * shadow scoring, is not loaded again.
   */
  syncChallenger(reason: string): Promise<SyncResult> {
    const run = this.loading.then(() => this.syncChallengerNow(reason));
    this.loading = run.catch(() => {});
    return run;
  }

  /** A challenger that failed in shadow scoring: stop scoring with it and never load that version again. */
  dropChallenger(model: ServingPriceModel): void {
    this.failedChallengers.add(model.ref.version);
    if (this.core.challenger === model) this.core.swapChallenger(undefined);
  }

  private async syncChallengerNow(reason: string): Promise<SyncResult> {
    const name = PRICE_MODEL_NAME;
    const alias = await this.store.getAlias(name, CHALLENGER_ALIAS);
    const current = this.core.challenger?.ref.version;
    const target = alias && alias.version !== this.core.serving?.ref.version ? alias.version : undefined;
    if (target === undefined || this.failedChallengers.has(target)) {
      if (current !== undefined) {
        this.core.swapChallenger(undefined);
        this.log.info({ model: name, version: current, reason }, 'challenger unloaded');
      }
      return { model: name, swapped: current !== undefined, ...(target !== undefined ? { version: target, error: 'E_LOAD_FAILED_BEFORE: not retried' } : {}) };
    }
    if (current === target) return { model: name, swapped: false, version: target };
    const t0 = Date.now();
    try {
      const serving = await this.loadPrice({ name, version: target }, await this.store.loadArtifacts(name, target));
      this.core.swapChallenger(serving);
      this.log.info({ model: name, version: target, previous: current, production: this.core.serving?.ref.version, reason, ms: Date.now() - t0 }, 'challenger loaded for shadow scoring');
      return { model: name, swapped: true, version: target };
    } catch (err) {
      const c = codeOf(err);
      this.failedChallengers.add(target);
      this.log.error({ code: c, model: name, version: target, reason, error: (err as Error).message }, 'challenger load failed; no shadow scoring');
      this.hooks.onLoadFailure?.(name, target, c);
      return { model: name, swapped: false, version: target, error: `${c}: ${(err as Error).message}` };
    }
  }

  /** Load and warm up a price model version (in the worker or in this thread); freed again if the warm-up fails. */
  private async loadPrice(ref: ModelRef, artifacts: ModelArtifacts): Promise<ServingPriceModel> {
    const serving = this.hooks.loadPrice ? await this.hooks.loadPrice(ref, artifacts) : new ServingPriceModel(ref, await PriceModel.deserialize(this.tf, artifacts));
    try {
      await serving.warmup();
    } catch (err) {
      serving.retire();
      throw err;
    }
    return serving;
  }

  private async syncOne(name: ServedModelName, reason: string): Promise<SyncResult> {
    const alias = await this.store.getAlias(name, PRODUCTION_ALIAS);
    if (!alias) return { model: name, swapped: false };
    const current = this.servedVersion(name);
    if (current === alias.version) return { model: name, swapped: false, version: alias.version };
    if (this.failed.get(name)?.has(alias.version)) {
      return { model: name, swapped: false, version: alias.version, error: 'E_LOAD_FAILED_BEFORE: not retried' };
    }
    const t0 = Date.now();
    try {
      const meta = await this.store.get(name, alias.version);
      const artifacts = await this.store.loadArtifacts(name, alias.version);
      const ref = { name, version: alias.version };
      if (name === PRICE_MODEL_NAME) {
        this.core.swap(await this.loadPrice(ref, artifacts));
      } else {
        const serving = await ServingSentimentModel.fromRegistry(ref, meta.featureSchemaHash, artifacts);
        try {
          await serving.warmup();
        } catch (err) {
          serving.retire();
          throw err;
        }
        this.core.swapSentiment(serving);
      }
      this.log.info({ model: name, version: alias.version, previous: current, reason, ms: Date.now() - t0 }, 'model swapped in');
      this.hooks.onSwap?.(meta, current);
      return { model: name, swapped: true, version: alias.version };
    } catch (err) {
      const c = codeOf(err);
      const error = `${c}: ${(err as Error).message}`;
      let set = this.failed.get(name);
      if (!set) this.failed.set(name, (set = new Set()));
      set.add(alias.version);
      this.log.error({ code: c, model: name, version: alias.version, serving: current, reason, error }, 'model load failed; keeping the current version');
      this.hooks.onLoadFailure?.(name, alias.version, c);
      return { model: name, swapped: false, version: alias.version, error };
    }
  }

  private info(v: ModelVersion, aliases: string[]) {
    const served = this.servedVersion(v.name as ServedModelName);
    return {
      name: v.name,
      version: v.version,
      task: v.task,
      status: v.status,
      aliases,
      featureSchemaHash: v.featureSchemaHash,
      createdAt: v.createdAt,
      metrics: Object.fromEntries(Object.entries(v.metrics).filter(([, x]) => Number.isFinite(x))),
      serving: served === v.version,
      kind: modelKind(v.params),
    };
  }

  private async aliasesOf(name: string): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const alias of [PRODUCTION_ALIAS, CHALLENGER_ALIAS, 'candidate']) {
      const a = await this.store.getAlias(name, alias);
      if (a) out.set(a.version, [...(out.get(a.version) ?? []), alias]);
    }
    return out;
  }

  async getModel(name: string, version: number) {
    const n = name || PRICE_MODEL_NAME;
    if (!/^[a-z0-9_-]{1,64}$/.test(n)) throw new PredictError('E_INVALID_ARGUMENT', 'invalid model name');
    if (!Number.isInteger(version) || version < 0) throw new PredictError('E_INVALID_ARGUMENT', 'version must be 0 (served) or a positive integer');
    let v: ModelVersion;
    if (version > 0) v = await this.store.get(n, version);
    else {
      const served = this.servedVersion(n as ServedModelName);
      v = served !== undefined ? await this.store.get(n, served) : await this.store.resolve(`${n}@production`);
    }
    const aliases = await this.aliasesOf(n);
    return this.info(v, aliases.get(v.version) ?? []);
  }

  async listModels(name: string) {
    if (name && !/^[a-z0-9_-]{1,64}$/.test(name)) throw new PredictError('E_INVALID_ARGUMENT', 'invalid model name');
    const all = await this.store.list(name || undefined);
    const out = [];
    for (const n of new Set(all.map((v) => v.name))) {
      const aliases = await this.aliasesOf(n);
      for (const v of all.filter((x) => x.name === n)) out.push(this.info(v, aliases.get(v.version) ?? []));
    }
    return out;
  }
}
