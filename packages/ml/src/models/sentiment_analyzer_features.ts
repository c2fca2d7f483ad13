/**
 * Text → tensor-ready arrays for the sentiment analyzer.
 *
 * Two views of each text:
 * - `tokens`: vocabulary ids, right-padded/truncated to `maxLen` (sequence branch);
 * - sparse bags: ids and raw counts of word n-grams and, separately, character n-grams, with
 *   a fixed width per group (TF-IDF branch; the idf vector is produced here and stored in the
 *   model as a weight).
 */
import { charNgrams, ngrams, tokenize, type TokenizerOptions } from '../text/tokenizer.ts';
import { Vocabulary, type VocabularyJson } from '../text/vocabulary.ts';

export interface BagFeatureConfig {
  /** Word n-grams 1..wordNgrams. */
  wordNgrams: number;
  /** Character n-gram range inside words (fastText style), or null for none. */
  charNgrams: [number, number] | null;
  minFrequency: number;
  maxFeatures: number;
  /** Word / character features kept per text (beyond that, the rarest are dropped). */
  maxWordFeaturesPerDoc: number;
  maxCharFeaturesPerDoc: number;
}

/** Each group is TF-IDF-normalised on its own (as two stacked scikit-learn vectorizers). */
export type BagGroup = 'word' | 'char';

export interface EncodedBag {
  group: BagGroup;
  /** Row-major n × width; id 0 = padding (count 0). */
  ids: Int32Array;
  counts: Float32Array;
  width: number;
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
  bags: EncodedBag[];
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
    const bagDocs = docs.map((d) => [...new Set(bagGroups(bag).flatMap((g) => bagFeatures(d, bag, g)))]);
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
    const tokens = new Int32Array(n * maxLen);
    const groups = bag && this.bagVocab ? bagGroups(bag) : [];
    const bags: EncodedBag[] = groups.map((group) => {
      const width = group === 'word' ? (bag as BagFeatureConfig).maxWordFeaturesPerDoc : (bag as BagFeatureConfig).maxCharFeaturesPerDoc;
      return { group, width, ids: new Int32Array(n * width), counts: new Float32Array(n * width) };
    });
    texts.forEach((text, i) => {
      const toks = tokenize(text, this.config.tokenizer);
      tokens.set(this.vocab.encode(toks, maxLen), i * maxLen);
      for (const b of bags) {
        const counts = new Map<number, number>();
        for (const f of bagFeatures(toks, bag as BagFeatureConfig, b.group)) {
          const id = this.bagVocab?.lookup(f);
          if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        // Ascending id = descending training frequency: truncation drops the rarest features.
        const entries = [...counts].sort((a, c) => a[0] - c[0]).slice(0, b.width);
        entries.forEach(([id, c], j) => {
          b.ids[i * b.width + j] = id;
          b.counts[i * b.width + j] = c;
        });
      }
    });
    return { n, tokens, bags };
  }
}

export function bagGroups(bag: BagFeatureConfig): BagGroup[] {
  return bag.charNgrams ? ['word', 'char'] : ['word'];
}

function bagFeatures(tokens: readonly string[], bag: BagFeatureConfig, group: BagGroup): string[] {
  const out: string[] = [];
  if (group === 'word') {
    for (let n = 1; n <= bag.wordNgrams; n++) for (const g of ngrams(tokens, n)) out.push(`w${n}:${g}`);
  } else if (bag.charNgrams) {
    const [lo, hi] = bag.charNgrams;
    for (const t of tokens) for (const g of charNgrams(t, lo, hi)) out.push(`c:${g}`);
  }
  return out;
}
