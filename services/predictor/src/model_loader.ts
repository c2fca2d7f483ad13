import type { Logger } from '@stock-mlops/platform';
import { ServingPriceModel } from '@stock-mlops/ml/inference/predictor';
import { ModelStore, type ModelVersion } from '@stock-mlops/ml/registry/model_store';
import { PriceModel } from '@stock-mlops/ml/training/models/price_predictor';
import type { Tf } from '@stock-mlops/ml/tf';
import { PredictError, type PredictorCore } from './core.ts';

export const PRICE_MODEL_NAME = 'price';

/**
 * Loads models from the registry and hot-swaps them: the new version is loaded and warmed up
 * in the background, then switched in atomically. If loading or the warm-up fails, the old
 * version keeps serving and the failure is returned to the caller to report.
 */
export class ModelCatalog {
  private loading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ModelStore,
    private readonly core: PredictorCore,
    private readonly tf: Tf,
    private readonly log: Logger,
    private readonly onSwap: (v: ModelVersion) => void = () => {},
  ) {}

  /** Load the production version unless it is already served. Serialized: one load at a time. */
  syncProduction(reason: string): Promise<{ swapped: boolean; version?: number; error?: string }> {
    const run = this.loading.then(() => this.doSync(reason));
    this.loading = run.catch(() => {});
    return run;
  }

  private async doSync(reason: string): Promise<{ swapped: boolean; version?: number; error?: string }> {
    const alias = await this.store.getAlias(PRICE_MODEL_NAME, 'production');
    if (!alias) return { swapped: false };
    const current = this.core.serving?.ref;
    if (current && current.version === alias.version) return { swapped: false, version: alias.version };
    const t0 = Date.now();
    try {
      const meta = await this.store.get(PRICE_MODEL_NAME, alias.version);
      const artifacts = await this.store.loadArtifacts(PRICE_MODEL_NAME, alias.version);
      const model = await PriceModel.deserialize(this.tf, artifacts);
      const serving = new ServingPriceModel({ name: PRICE_MODEL_NAME, version: alias.version }, model);
      serving.warmup();
      const old = this.core.swap(serving);
      // Let in-flight requests on the old model finish before freeing its tensors.
      if (old) setTimeout(() => old.model.dispose(), 2_000).unref();
      this.log.info({ model: PRICE_MODEL_NAME, version: alias.version, previous: current?.version, reason, ms: Date.now() - t0 }, 'model swapped in');
      this.onSwap(meta);
      return { swapped: true, version: alias.version };
    } catch (err) {
      const error = `${(err as { code?: string }).code ?? 'E_LOAD'}: ${(err as Error).message}`;
      this.log.error({ model: PRICE_MODEL_NAME, version: alias.version, serving: current?.version, error }, 'model load failed; keeping the current version');
      return { swapped: false, version: alias.version, error };
    }
  }

  private info(v: ModelVersion, aliases: string[]) {
    return {
      name: v.name,
      version: v.version,
      task: v.task,
      status: v.status,
      aliases,
      featureSchemaHash: v.featureSchemaHash,
      createdAt: v.createdAt,
      metrics: Object.fromEntries(Object.entries(v.metrics).filter(([, x]) => Number.isFinite(x))),
      serving: this.core.serving?.ref.name === v.name && this.core.serving.ref.version === v.version,
    };
  }

  private async aliasesOf(name: string): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>();
    for (const alias of ['production', 'candidate']) {
      const a = await this.store.getAlias(name, alias);
      if (a) out.set(a.version, [...(out.get(a.version) ?? []), alias]);
    }
    return out;
  }

  async getModel(name: string, version: number) {
    const n = name || PRICE_MODEL_NAME;
    let v: ModelVersion;
    if (version > 0) v = await this.store.get(n, version);
    else {
      const s = this.core.serving;
      if (n === PRICE_MODEL_NAME && s) v = await this.store.get(n, s.ref.version);
      else v = await this.store.resolve(`${n}@production`);
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
