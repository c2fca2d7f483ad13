/**
 * Lexicon sentiment for financial headlines: the stand-in scorer until a sentiment model is
 * served (same SentimentScore interface, `source: 'lexicon'`; a model score of the same article
 * replaces it). Deterministic and dependency-free.
 *
 * score = (p − n) / (p + n + 1) ∈ (−1, 1), p / n = positive / negative word hits, where a hit
 * within three words after a negator ("not", "no", "never", "without", "n't") counts for the
 * other side. No hit → 0. Word lists: short finance-specific lists in the spirit of
 * Loughran–McDonald (gains/losses, beats/misses, upgrades/downgrades …), written for this
 * project.
 */
const POSITIVE = new Set(
  `beat beats beating exceed exceeds exceeded exceeding outperform outperforms outperformed upgrade upgrades upgraded
  raise raises raised raising gain gains gained rise rises rising rose rally rallies rallied surge surges surged soar soars
  soared jump jumps jumped climb climbs climbed record strong stronger strongest growth grow grows grew growing profit
  profits profitable profitability improve improves improved improvement positive boost boosts boosted expand expands
  expanded expansion bullish buy overweight upbeat optimistic optimism success successful win wins won award awarded
  dividend dividends increase increases increased increasing higher high highs rebound rebounds rebounded recover recovers
  recovered recovery benefit benefits advance advances advanced robust solid top tops topped accelerate accelerates
  accelerated momentum breakthrough launch launches approval approved approves partnership upside`.split(/\s+/),
);

const NEGATIVE = new Set(
  `miss misses missed missing downgrade downgrades downgraded cut cuts cutting fall falls fell falling drop drops dropped
  decline declines declined declining loss losses lose loses losing lost plunge plunges plunged slump slumps slumped tumble
  tumbles tumbled sink sinks sank slide slides slid weak weaker weakest weakness lower low lows negative bearish sell
  underweight underperform underperforms underperformed warn warns warned warning concern concerns risk risks risky
  lawsuit lawsuits sue sues sued fraud probe investigation investigations recall recalls recalled layoff layoffs
  bankruptcy bankrupt default defaults debt deficit decrease decreases decreased crash crashes crashed fear fears worry
  worries worried pessimistic disappoint disappoints disappointed disappointing disappointment delay delays delayed fine
  fined penalty halt halts halted shortfall downturn recession volatile volatility slowdown`.split(/\s+/),
);

const NEGATORS = new Set(['not', 'no', 'never', 'without', 'nor', "n't", 'cannot']);
const TOKEN_RE = /[a-z]+(?:'[a-z]+)?/g;

export function lexiconSentiment(text: string): number {
  const tokens = text.toLowerCase().match(TOKEN_RE) ?? [];
  let p = 0;
  let n = 0;
  let negatedUntil = -1;
  tokens.forEach((raw, i) => {
    const token = raw.endsWith("n't") ? raw.slice(0, -3) : raw;
    if (NEGATORS.has(raw) || raw.endsWith("n't")) negatedUntil = i + 3;
    const flip = i <= negatedUntil && !NEGATORS.has(raw);
    if (POSITIVE.has(token)) flip ? n++ : p++;
    else if (NEGATIVE.has(token)) flip ? p++ : n++;
  });
  const s = (p - n) / (p + n + 1);
  return s === 0 ? 0 : s;
}
