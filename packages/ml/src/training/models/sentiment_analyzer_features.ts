/**
 * Text → tensor-ready arrays for the sentiment analyzer.
 *
 * Two views of each text:
 * - `tokens`: vocabulary ids, right-padded/truncated to `maxLen` (sequence branch);
 * - a sparse bag: ids and raw counts of word n-grams and character n-grams, at most
 *   `maxPerDoc` per text (TF-IDF branch; the idf vector is produced here and stored in the
 *   model as a weight).
 */
import { charNgrams, ngrams, tokenize, type TokenizerOptions } from '../../text/tokenizer.ts';
import { Vocabulary, type VocabularyJson } from '../../text/vocabulary.ts';

export interface BagFeatureConfig {
  /** Word n-grams 1..wordNgrams. */
  wordNgrams: number;
  /** Character n-gram range inside words (fastText style), or null for none. */
  charNgrams: [number, number] | null;
  minFrequency: number;
  maxFeatures: number;
  /** Features kept per text (the rest, rarest-id-last, are dropped). */
  maxPerDoc: number;
}

export interface FeatureConfig {
  maxLen: number;
  vocabMinFrequency: number;
  vocabMaxSize: number;
  bag: BagFeatureConfig | null;
  tokenizer: TokenizerOptions;
}

export interface EncodedBatch {
  n: number;
  tokens: Int32Array;
  bagIds: Int32Array;
  bagCounts: Float32Array;
}

export interface FeaturizerJson {
  config: FeatureConfig;
  vocab: VocabularyJson;
  bagVocab: VocabularyJson | null;
}

export class SentimentFeaturizer {
  private constructor(
    readonly config: FeatureConfig,
    readonly vocab: Vocabulary,
    readonly bagVocab: Vocabulary | null,
  ) {}

  /** Fits vocabularies on training texts; also returns idf for the bag features. */
  static fit(texts: readonly string[], config: FeatureConfig): { featurizer: SentimentFeaturizer; idf: Float32Array | null } {
    const docs = texts.map((t) => tokenize(t, config.tokenizer));
    const vocab = Vocabulary.build(docs, { minFrequency: config.vocabMinFrequency, maxSize: config.vocabMaxSize });
    if (!config.bag) return { featurizer: new SentimentFeaturizer(config, vocab, null), idf: null };
    const bag = config.bag;
    // Document frequency, so that min frequency and idf agree.
    const bagDocs = docs.map((d) => [...new Set(bagFeatures(d, bag))]);
    const bagVocab = Vocabulary.build(bagDocs, { minFrequency: bag.minFrequency, maxSize: bag.maxFeatures });
    const df = new Float64Array(bagVocab.size);
    for (const d of bagDocs) {
      for (const f of d) {
        const id = bagVocab.lookup(f);
        if (id !== undefined) df[id] = (df[id] as number) + 1;
      }
    }
    const n = docs.length;
    const idf = new Float32Array(bagVocab.size);
    // Smoothed idf as in scikit-learn; reserved ids keep 0 so they never contribute.
    for (let id = 0; id < bagVocab.size; id++) {
      const f = df[id] as number;
      idf[id] = f > 0 ? Math.log((1 + n) / (1 + f)) + 1 : 0;
    }
    return { featurizer: new SentimentFeaturizer(config, vocab, bagVocab), idf };
  }

  static fromJSON(json: FeaturizerJson): SentimentFeaturizer {
    return new SentimentFeaturizer(
      json.config,
      Vocabulary.fromJSON(json.vocab),
      json.bagVocab ? Vocabulary.fromJSON(json.bagVocab) : null,
    );
  }

  toJSON(): FeaturizerJson {
    return { config: this.config, vocab: this.vocab.toJSON(), bagVocab: this.bagVocab?.toJSON() ?? null };
  }

  encode(texts: readonly string[]): EncodedBatch {
    const n = texts.length;
    const { maxLen, bag } = this.config;
    const perDoc = bag?.maxPerDoc ?? 0;
    const tokens = new Int32Array(n * maxLen);
    const bagIds = new Int32Array(n * perDoc);
    const bagCounts = new Float32Array(n * perDoc);
    texts.forEach((text, i) => {
      const toks = tokenize(text, this.config.tokenizer);
      tokens.set(this.vocab.encode(toks, maxLen), i * maxLen);
      if (!bag || !this.bagVocab) return;
      const counts = new Map<number, number>();
      for (const f of bagFeatures(toks, bag)) {
        const id = this.bagVocab.lookup(f);
        if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      // Ascending id = descending training frequency: truncation drops the rarest features.
      const entries = [...counts].sort((a, b) => a[0] - b[0]).slice(0, perDoc);
      entries.forEach(([id, c], j) => {
        bagIds[i * perDoc + j] = id;
        bagCounts[i * perDoc + j] = c;
      });
    });
    return { n, tokens, bagIds, bagCounts };
  }
}

function bagFeatures(tokens: readonly string[], bag: BagFeatureConfig): string[] {
  const out: string[] = [];
  for (let n = 1; n <= bag.wordNgrams; n++) for (const g of ngrams(tokens, n)) out.push(`w${n}:${g}`);
  if (bag.charNgrams) {
    const [lo, hi] = bag.charNgrams;
    for (const t of tokens) for (const g of charNgrams(t, lo, hi)) out.push(`c:${g}`);
  }
  return out;
}
