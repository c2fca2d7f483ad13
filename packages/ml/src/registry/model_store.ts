import { Binary, type Collection, type Db, type Filter } from 'mongodb';
import { AppError } from '@stock-mlops/contracts';

/**
 * Model registry on MongoDB (FerretDB-compatible: no transactions, no GridFS).
 *
 * - `model_versions`: one flat document per (name, version) with status, metrics, params,
 *   feature schema hash, data window, lineage, git sha.
 * - `model_details`: the version's heavy statistics (normalization, drift reference) as one
 *   binary JSON document per version. Kept out of `model_versions` because FerretDB decodes
 *   large nested number arrays very slowly (seconds per document), which made every registry
 *   read slow; `get()` joins them back, `list()` leaves them out.
 * - `model_artifacts`: the artifact bytes (tfjs model.json and weights) as binary chunks.
 * - `model_aliases`: one document per (name, alias) holding the version and its history, so
 *   moving an alias is a single atomic document update; rollback pops the history.
 * - `model_counters`: auto-incremented version numbers.
 *
 * Registration writes the artifacts and details first and the version document last, so a
 * crash in the middle never leaves a half-registered version visible (orphans are swept).
 */

export type ModelTask = 'price' | 'sentiment';
/** The alias the predictor serves. */
export const PRODUCTION_ALIAS = 'production';
/** The optional alias the predictor scores in the shadow of production (one per model name). */
export const CHALLENGER_ALIAS = 'challenger';
export type ModelStatus = 'candidate' | 'production' | 'archived' | 'rejected';

export interface ModelVersion {
  name: string;
  version: number;
  task: ModelTask;
  status: ModelStatus;
  statusReason: string;
  metrics: Record<string, number>;
  params: Record<string, unknown>;
  featureSchemaHash: string;
  normalization: Record<string, unknown> | null;
  reference: Record<string, unknown> | null;
  dataWindow: { from: string; to: string; rows: number } | null;
  lineage: Record<string, unknown>;
  gitSha: string;
  createdAt: string;
  artifactBytes: number;
}

export interface ModelArtifacts {
  /** JSON-serializable parts (tfjs topology + weight specs, vocabularies, configs). */
  json: Record<string, unknown>;
  /** Binary weights. */
  weights: Uint8Array;
}

export interface AliasDoc {
  _id: string;
  name: string;
  alias: string;
  version: number;
  history: number[];
  updatedAt: string;
  reason: string;
}

interface DetailsDoc {
  _id: string;
  name: string;
  version: number;
  /** JSON of { normalization, reference }. */
  data: Binary;
  createdAt: number;
}

/** The `_id` of a version document: `name:version`. */
export const versionId = (name: string, version: number): string => `${name}:${version}`;

interface ArtifactChunk {
  _id: string;
  name: string;
  version: number;
  part: 'json' | 'weights';
  seq: number;
  data: Binary;
  createdAt: number;
}

export type RegistryErrorCode = 'E_MODEL_NOT_FOUND' | 'E_ALIAS_NOT_FOUND' | 'E_NO_PREVIOUS' | 'E_ARTIFACT_CORRUPT' | 'E_ALIAS_CHANGED';

export class RegistryError extends AppError<RegistryErrorCode> {
  constructor(code: RegistryErrorCode, message: string) {
    super(code, message);
    this.name = 'RegistryError';
  }
}

const CHUNK = 1024 * 1024;

export type RegisterInput = Omit<ModelVersion, 'version' | 'status' | 'statusReason' | 'createdAt' | 'artifactBytes'> & {
  artifacts: ModelArtifacts;
};

export class ModelStore {
  readonly versions: Collection<ModelVersion>;
  readonly chunks: Collection<ArtifactChunk>;
  readonly aliases: Collection<AliasDoc>;
  readonly details: Collection<DetailsDoc>;
  private readonly counters: Collection<{ _id: string; seq: number }>;

  constructor(db: Db) {
    this.versions = db.collection<ModelVersion>('model_versions');
    this.details = db.collection<DetailsDoc>('model_details');
    this.chunks = db.collection<ArtifactChunk>('model_artifacts');
    this.aliases = db.collection<AliasDoc>('model_aliases');
    this.counters = db.collection<{ _id: string; seq: number }>('model_counters');
  }

  async ensureIndexes(): Promise<void> {
    await this.versions.createIndex({ name: 1, version: 1 }, { unique: true });
    await this.chunks.createIndex({ name: 1, version: 1, part: 1, seq: 1 });
  }

  private async nextVersion(name: string): Promise<number> {
    const doc = await this.counters.findOneAndUpdate(
      { _id: name },
      { $inc: { seq: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    if (!doc) throw new Error('counter update returned nothing');
    return doc.seq;
  }

  async register(input: RegisterInput): Promise<ModelVersion> {
    const version = await this.nextVersion(input.name);
    const jsonBytes = Buffer.from(JSON.stringify(input.artifacts.json));
    const weightBytes = Buffer.from(input.artifacts.weights.buffer, input.artifacts.weights.byteOffset, input.artifacts.weights.byteLength);
    const chunks: ArtifactChunk[] = [];
    for (const [part, bytes] of [
      ['json', jsonBytes],
      ['weights', weightBytes],
    ] as const) {
      for (let seq = 0, off = 0; off < bytes.length || seq === 0; seq++, off += CHUNK) {
        chunks.push({
          _id: `${input.name}:${version}:${part}:${seq}`,
          name: input.name,
          version,
          part,
          seq,
          data: new Binary(bytes.subarray(off, off + CHUNK)),
          createdAt: Date.now(),
        });
        if (off + CHUNK >= bytes.length) break;
      }
    }
    await this.chunks.insertMany(chunks, { ordered: false });
    const { artifacts: _a, reference, normalization, ...meta } = input;
    await this.details.insertOne({
      _id: `${input.name}:${version}`,
      name: input.name,
      version,
      data: new Binary(Buffer.from(JSON.stringify({ reference, normalization }))),
      createdAt: Date.now(),
    });
    const doc: ModelVersion = {
      ...meta,
      reference: null,
      normalization: null,
      version,
      status: 'candidate',
      statusReason: 'registered',
      createdAt: new Date().toISOString(),
      artifactBytes: jsonBytes.length + weightBytes.length,
    };
    // `_id` = name:version, so reading one version is an `_id` lookup on every backend.
    await this.versions.insertOne({ ...doc, _id: versionId(input.name, version) } as unknown as ModelVersion);
    return { ...doc, reference, normalization };
  }

  /** One version with its normalization and drift reference. */
  async get(name: string, version: number): Promise<ModelVersion> {
    const doc =
      (await this.versions.findOne({ _id: versionId(name, version) } as unknown as Filter<ModelVersion>, { projection: { _id: 0 } })) ??
      // Versions registered before `_id` was name:version.
      (await this.versions.findOne({ name, version }, { projection: { _id: 0 } }));
    if (!doc) throw new RegistryError('E_MODEL_NOT_FOUND', `model ${name}@${version} not found`);
    const d = await this.details.findOne({ _id: `${name}:${version}` });
    if (!d) return doc; // registered before details were split out: the fields are inline
    try {
      const parsed = JSON.parse(Buffer.from(d.data.buffer).toString()) as Pick<ModelVersion, 'reference' | 'normalization'>;
      return { ...doc, reference: parsed.reference ?? null, normalization: parsed.normalization ?? null };
    } catch (err) {
      throw new RegistryError('E_ARTIFACT_CORRUPT', `details of ${name}@${version} are corrupt: ${(err as Error).message}`);
    }
  }

  /** Versions without their heavy details (reference and normalization are null; use get()). */
  async list(name?: string): Promise<ModelVersion[]> {
    const docs = await this.versions.find(name ? { name } : {}, { projection: { _id: 0, reference: 0, normalization: 0 } }).toArray();
    return docs.map((d) => ({ ...d, reference: null, normalization: null })).sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
  }

  async latest(name: string): Promise<ModelVersion | undefined> {
    const all = await this.list(name);
    return all.at(-1);
  }

  async getAlias(name: string, alias: string): Promise<AliasDoc | null> {
    return this.aliases.findOne({ _id: `${name}:${alias}` });
  }

  /** Resolve `name@version`, `name@alias` or a bare name (= production). */
  async resolve(ref: string): Promise<ModelVersion> {
    const [name, sel = 'production'] = ref.split('@') as [string, string?];
    if (/^\d+$/.test(sel)) return this.get(name, Number(sel));
    const a = await this.getAlias(name, sel);
    if (!a) throw new RegistryError('E_ALIAS_NOT_FOUND', `model ${name} has no "${sel}" alias`);
    return this.get(name, a.version);
  }

  async loadArtifacts(name: string, version: number): Promise<ModelArtifacts> {
    // Chunk ids are `name:version:part:seq`: read them by `_id` in sequence until one is missing,
    // so loading a model costs its own size, not the registry's (FerretDB scans for `{name, version}`).
    const readPart = async (part: 'json' | 'weights'): Promise<Buffer[]> => {
      const out: Buffer[] = [];
      for (let seq = 0; ; seq++) {
        const c = await this.chunks.findOne({ _id: `${name}:${version}:${part}:${seq}` });
        if (!c) return out;
        out.push(Buffer.from(c.data.buffer));
      }
    };
    const [json, weights] = await Promise.all([readPart('json'), readPart('weights')]);
    if (json.length === 0 && weights.length === 0) throw new RegistryError('E_MODEL_NOT_FOUND', `no artifacts for ${name}@${version}`);
    try {
      return { json: JSON.parse(Buffer.concat(json).toString()) as Record<string, unknown>, weights: new Uint8Array(Buffer.concat(weights)) };
    } catch (err) {
      throw new RegistryError('E_ARTIFACT_CORRUPT', `artifacts of ${name}@${version} are corrupt: ${(err as Error).message}`);
    }
  }

  async setStatus(name: string, version: number, status: ModelStatus, reason: string): Promise<void> {
    const r = await this.versions.updateOne({ _id: versionId(name, version) } as unknown as Filter<ModelVersion>, { $set: { status, statusReason: reason } });
    if (r.matchedCount === 0) await this.versions.updateOne({ name, version }, { $set: { status, statusReason: reason } });
  }

  /**
   * Point `alias` at `version`, remembering the previous holder for rollback. Moving `production`
   * to the version the `challenger` alias holds clears that alias (`clearedChallenger`).
   */
  async setAlias(name: string, alias: string, version: number, reason: string): Promise<{ previous: number | undefined; clearedChallenger?: number }> {
    await this.get(name, version);
    const cur = await this.getAlias(name, alias);
    const history = cur ? [...cur.history, cur.version].slice(-20) : [];
    await this.aliases.updateOne(
      { _id: `${name}:${alias}` },
      { $set: { name, alias, version, history, updatedAt: new Date().toISOString(), reason } },
      { upsert: true },
    );
    if (alias === 'production') {
      if (cur && cur.version !== version) await this.setStatus(name, cur.version, 'archived', `replaced by v${version}`);
      await this.setStatus(name, version, 'production', reason);
      if (await this.deleteAlias(name, CHALLENGER_ALIAS, version)) return { previous: cur?.version, clearedChallenger: version };
    }
    return { previous: cur?.version };
  }

  /**
   * Remove `alias`; with `onlyIfVersion`, only while it still points at that version (compare and
   * delete, atomic on one document). True when a document was removed.
   */
  async deleteAlias(name: string, alias: string, onlyIfVersion?: number): Promise<boolean> {
    const r = await this.aliases.deleteOne({ _id: `${name}:${alias}`, ...(onlyIfVersion !== undefined ? { version: onlyIfVersion } : {}) });
    return r.deletedCount > 0;
  }

  /**
   * Live promotion: `production` moves to the challenger version and `challenger` is cleared,
   * provided the aliases are still what the caller decided on (compare and set): the challenger
   * still `expectedChallenger` and, when given, production still `expectedProduction`.
   * E_ALIAS_CHANGED otherwise, and nothing moves.
   */
  async promoteChallenger(name: string, expected: { challenger: number; production?: number }, reason: string): Promise<{ previous: number | undefined }> {
    const [challenger, production] = await Promise.all([this.getAlias(name, CHALLENGER_ALIAS), this.getAlias(name, PRODUCTION_ALIAS)]);
    if (challenger?.version !== expected.challenger) {
      throw new RegistryError('E_ALIAS_CHANGED', `${name}@challenger is ${challenger ? `v${challenger.version}` : 'unset'}, not v${expected.challenger}: the decision is stale`);
    }
    if (expected.production !== undefined && production?.version !== expected.production) {
      throw new RegistryError('E_ALIAS_CHANGED', `${name}@production is ${production ? `v${production.version}` : 'unset'}, not v${expected.production}: the decision is stale`);
    }
    // setAlias clears `challenger` only while it still names the promoted version: one set meanwhile stays.
    const { previous } = await this.setAlias(name, PRODUCTION_ALIAS, expected.challenger, reason);
    return { previous };
  }

  /** Move `alias` back to the version it pointed at before. */
  async rollback(name: string, alias = 'production', reason = 'rollback'): Promise<{ from: number; to: number }> {
    const cur = await this.getAlias(name, alias);
    if (!cur) throw new RegistryError('E_ALIAS_NOT_FOUND', `model ${name} has no "${alias}" alias`);
    const to = cur.history.at(-1);
    if (to === undefined) throw new RegistryError('E_NO_PREVIOUS', `model ${name}@${alias} has no previous version`);
    await this.aliases.updateOne(
      { _id: cur._id },
      { $set: { version: to, history: cur.history.slice(0, -1), updatedAt: new Date().toISOString(), reason } },
    );
    if (alias === 'production') {
      await this.setStatus(name, cur.version, 'archived', reason);
      await this.setStatus(name, to, 'production', reason);
    }
    return { from: cur.version, to };
  }

  /** Every alias of a model (or of all models), e.g. to show which version is in production. */
  async listAliases(name?: string): Promise<AliasDoc[]> {
    const docs = await this.aliases.find(name ? { name } : {}).toArray();
    return docs.sort((a, b) => a.name.localeCompare(b.name) || a.alias.localeCompare(b.alias));
  }

  /**
   * Remove artifact chunks whose version document was never written (crash during registration).
   * Only chunks older than `olderThanMs` go, so a registration in progress elsewhere is left
   * alone; 0 is safe for a model whose training lease the caller holds.
   */
  async sweepOrphans(opts: { name?: string; olderThanMs?: number } = {}): Promise<number> {
    const olderThanMs = opts.olderThanMs ?? 10 * 60_000;
    const filter = opts.name ? { name: opts.name } : {};
    const known = new Set((await this.versions.find(filter, { projection: { name: 1, version: 1 } }).toArray()).map((v) => `${v.name}:${v.version}`));
    const chunks = await this.chunks.find(filter, { projection: { name: 1, version: 1, _id: 1, createdAt: 1 } }).toArray();
    const cutoff = Date.now() - olderThanMs;
    const orphans = chunks.filter((c) => !known.has(`${c.name}:${c.version}`) && c.createdAt <= cutoff).map((c) => c._id);
    if (orphans.length) await this.chunks.deleteMany({ _id: { $in: orphans } });
    const details = await this.details.find(filter, { projection: { _id: 1, name: 1, version: 1, createdAt: 1 } }).toArray();
    const orphanDetails = details.filter((d) => !known.has(`${d.name}:${d.version}`) && d.createdAt <= cutoff).map((d) => d._id);
    if (orphanDetails.length) await this.details.deleteMany({ _id: { $in: orphanDetails } });
    return orphans.length + orphanDetails.length;
  }
}
