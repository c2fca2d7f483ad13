/**
 * A token → id mapping built from training data.
 *
 * Ids 0..SPECIALS-1 are reserved: `<pad>` = 0, `<unk>` = 1, then shape back-off tokens
 * `<num>`, `<pct>`, `<ticker>`, `<emoji>`, `<cjk>`. An out-of-vocabulary token is mapped to the
 * back-off id of its shape (a rare number still says "a number is here"), else to `<unk>`.
 *
 * Building is deterministic: tokens are ordered by descending count, then by code-unit order,
 * so the same texts always give the same ids regardless of input iteration quirks.
 */
import { z } from 'zod';
import { TextError } from './errors.ts';
import { tokenKind, type TokenKind } from './tokenizer.ts';

export const PAD = '<pad>';
export const UNK = '<unk>';
const BACKOFF: Partial<Record<TokenKind, string>> = {
  number: '<num>',
  percent: '<pct>',
  ticker: '<ticker>',
  emoji: '<emoji>',
  cjk: '<cjk>',
};
export const SPECIAL_TOKENS: readonly string[] = [PAD, UNK, ...Object.values(BACKOFF)];
export const PAD_ID = 0;
export const UNK_ID = 1;

export interface VocabularyOptions {
  /** Tokens seen fewer times are left out. Default 1. */
  minFrequency?: number;
  /** Upper bound on the number of ids, special tokens included. Default 50,000. */
  maxSize?: number;
}

const vocabularyJsonSchema = z.object({
  kind: z.literal('vocabulary'),
  version: z.literal(1),
  specials: z.array(z.string()),
  tokens: z.array(z.string()),
});
export type VocabularyJson = z.infer<typeof vocabularyJsonSchema>;

export class Vocabulary {
  readonly tokens: readonly string[];
  private readonly index: Map<string, number>;

  private constructor(tokens: readonly string[]) {
    this.tokens = tokens;
    this.index = new Map(tokens.map((t, i) => [t, i]));
    if (this.index.size !== tokens.length) {
      throw new TextError('E_VOCAB_INVALID', 'vocabulary contains duplicate tokens');
    }
  }

  /** Builds from tokenized documents; each occurrence counts (not document frequency). */
  static build(documents: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const minFrequency = options.minFrequency ?? 1;
    const maxSize = options.maxSize ?? 50_000;
    if (maxSize < SPECIAL_TOKENS.length) {
      throw new TextError('E_VOCAB_INVALID', `maxSize must be at least ${SPECIAL_TOKENS.length}`, { maxSize });
    }
    const counts = new Map<string, number>();
    for (const doc of documents) for (const t of doc) counts.set(t, (counts.get(t) ?? 0) + 1);
    const specials = new Set(SPECIAL_TOKENS);
    const kept = [...counts]
      .filter(([t, c]) => c >= minFrequency && !specials.has(t))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, maxSize - SPECIAL_TOKENS.length)
      .map(([t]) => t);
    return new Vocabulary([...SPECIAL_TOKENS, ...kept]);
  }

  static fromJSON(json: unknown): Vocabulary {
    const parsed = vocabularyJsonSchema.safeParse(json);
    if (!parsed.success) throw new TextError('E_VOCAB_INVALID', `invalid vocabulary JSON: ${parsed.error.message}`);
    const { specials, tokens } = parsed.data;
    if (specials.length !== SPECIAL_TOKENS.length || specials.some((s, i) => s !== SPECIAL_TOKENS[i])) {
      throw new TextError('E_VOCAB_INVALID', 'vocabulary was built with different special tokens', { specials });
    }
    return new Vocabulary([...specials, ...tokens]);
  }

  toJSON(): VocabularyJson {
    return {
      kind: 'vocabulary',
      version: 1,
      specials: [...SPECIAL_TOKENS],
      tokens: this.tokens.slice(SPECIAL_TOKENS.length),
    };
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** Id of a token, with shape back-off for unknown tokens. */
  id(token: string): number {
    const known = this.index.get(token);
    if (known !== undefined) return known;
    const backoff = BACKOFF[tokenKind(token)];
    return backoff === undefined ? UNK_ID : (this.index.get(backoff) ?? UNK_ID);
  }

  /** Exact id or undefined (no back-off): for sparse feature vocabularies. */
  lookup(token: string): number | undefined {
    return this.index.get(token);
  }

  token(id: number): string {
    return this.tokens[id] ?? UNK;
  }

  /**
   * Ids of `tokens`, truncated to `length` and right-padded with PAD_ID when `length` is given.
   */
  encode(tokens: readonly string[], length?: number): Int32Array {
    const n = length ?? tokens.length;
    const out = new Int32Array(n); // zero-filled = PAD_ID
    for (let i = 0; i < Math.min(n, tokens.length); i++) out[i] = this.id(tokens[i] as string);
    return out;
  }
}
