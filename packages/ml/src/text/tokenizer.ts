/**
 * Deterministic, Unicode-aware tokenizer for financial text (news sentences, tweets, Korean
 * headlines).
 *
 * Pipeline: NFKC → lowercase → one left-to-right scan with a single sticky regex whose
 * alternatives are tried in priority order: URL, cashtag, percentage, number, word, CJK run,
 * emoji. Everything else (punctuation, symbols, whitespace) separates tokens and is dropped,
 * except `!` and `?` which carry tone in tweets.
 *
 * Token shapes (see `tokenKind`):
 * - `<url>` for any http(s)/www link (t.co links are pure noise for sentiment);
 * - cashtags stay one token: `$AAPL` → `$aapl`, `$BRK.B` → `$brk.b`;
 * - percentages become one token with the sign only when it is explicit: `5.2%`, `+5%`,
 *   `-3%`; `20 % -40 %` (a range in PhraseBank style) gives `20%` and `40%`;
 * - numbers keep their digits with `,` thousands separators removed: `1,234.5` → `1234.5`;
 * - words: letters/marks/digits with inner `'`, `’`, `-`, `&` (`year-on-year`, `at&t`);
 *   Hangul words are kept whole (Korean is space-delimited);
 * - Han/Kana runs (no spaces in Chinese/Japanese) become overlapping character bigrams;
 * - each emoji (with its modifiers/ZWJ sequence) is one token.
 */

export interface TokenizerOptions {
  /** Keep `!` and `?` as tokens (default true). */
  keepExclamation?: boolean;
  /** Longest token kept; longer ones are cut (defends against pathological input). Default 64. */
  maxTokenLength?: number;
}

export type TokenKind = 'url' | 'ticker' | 'percent' | 'number' | 'word' | 'cjk' | 'emoji' | 'punct' | 'special';

export const URL_TOKEN = '<url>';

// Order matters: earlier alternatives win at the same position.
const TOKEN_RE = new RegExp(
  [
    String.raw`(?<url>(?:https?:\/\/|www\.)[^\s<>"]+)`,
    String.raw`(?<ticker>\$[\p{L}][\p{L}\p{N}]{0,9}(?:\.[\p{L}]{1,2})?(?![\p{L}\p{N}]))`,
    // Explicit sign only when not preceded by a number or % (then the dash is a range dash).
    String.raw`(?<pct>(?:(?<![\p{Nd}%]\s*)[+\-−])?\p{Nd}+(?:[.,]\p{Nd}+)*\s?%)`,
    String.raw`(?<num>\p{Nd}+(?:[.,]\p{Nd}+)*)`,
    String.raw`(?<word>[\p{L}\p{M}][\p{L}\p{M}\p{N}]*(?:['’\-&][\p{L}\p{M}\p{N}]+)*)`,
    String.raw`(?<emoji>\p{Extended_Pictographic}(?:\p{Emoji_Modifier}|\uFE0F|\u200D\p{Extended_Pictographic})*|\p{Regional_Indicator}{2})`,
    String.raw`(?<punct>[!?])`,
  ].join('|'),
  'gu',
);

const CJK_RUN_RE = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+$/u;
const CJK_SPLIT_RE = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+)/u;

export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

export function tokenize(text: string, options: TokenizerOptions = {}): string[] {
  const keepExclamation = options.keepExclamation ?? true;
  const maxLen = options.maxTokenLength ?? 64;
  const out: string[] = [];
  const push = (token: string): void => {
    out.push(token.length > maxLen ? token.slice(0, maxLen) : token);
  };

  for (const match of normalizeText(text).matchAll(TOKEN_RE)) {
    const g = match.groups ?? {};
    if (g.url !== undefined) push(URL_TOKEN);
    else if (g.ticker !== undefined) push(g.ticker);
    else if (g.pct !== undefined) push(normalizeNumber(g.pct.replace(/\s/gu, '').replace('−', '-')));
    else if (g.num !== undefined) push(normalizeNumber(g.num));
    else if (g.word !== undefined) pushWord(g.word, push);
    else if (g.emoji !== undefined) push(g.emoji);
    else if (g.punct !== undefined && keepExclamation) push(g.punct);
  }
  return out;
}

/** Words are split where a Han/Kana run starts or ends; such runs become char bigrams. */
function pushWord(word: string, push: (t: string) => void): void {
  if (!CJK_SPLIT_RE.test(word)) {
    push(word);
    return;
  }
  for (const part of word.split(CJK_SPLIT_RE)) {
    if (part === '') continue;
    if (!CJK_RUN_RE.test(part)) {
      push(part);
      continue;
    }
    const chars = Array.from(part);
    if (chars.length === 1) push(part);
    for (let i = 0; i + 1 < chars.length; i++) push(`${chars[i]}${chars[i + 1]}`);
  }
}

/**
 * `1,234.5` → `1234.5` (comma followed by exactly three digits is a thousands separator);
 * `3,5` (decimal comma) → `3.5`.
 */
function normalizeNumber(token: string): string {
  return token.replace(/,(?=\p{Nd}{3}(?!\p{Nd}))/gu, '').replace(/,/gu, '.');
}

const KIND_TESTS: Array<[TokenKind, RegExp]> = [
  ['special', /^<[a-z_]+>$/u],
  ['ticker', /^\$\p{L}/u],
  ['percent', /^[+\-]?\p{Nd}[\p{Nd}.]*%$/u],
  ['number', /^\p{Nd}[\p{Nd}.]*$/u],
  ['emoji', /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator})/u],
  ['punct', /^[!?]$/u],
  ['cjk', /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+$/u],
];

/** The shape class of a token produced by `tokenize` (used for OOV back-off). */
export function tokenKind(token: string): TokenKind {
  if (token === URL_TOKEN) return 'url';
  for (const [kind, re] of KIND_TESTS) if (re.test(token)) return kind;
  return 'word';
}

/** Contiguous n-grams joined with a space (a space never occurs inside a token). */
export function ngrams(tokens: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  return out;
}

/**
 * Character n-grams of one token, fastText style: the token is wrapped in `<` `>` so prefixes
 * and suffixes are distinct features (`<ris`, `ses>`). Code points, not UTF-16 units.
 */
export function charNgrams(token: string, minN: number, maxN: number): string[] {
  const chars = Array.from(`<${token}>`);
  const out: string[] = [];
  for (let n = minN; n <= maxN; n++) {
    for (let i = 0; i + n <= chars.length; i++) out.push(chars.slice(i, i + n).join(''));
  }
  return out;
}
