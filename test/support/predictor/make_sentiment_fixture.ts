/**
 * Child-process helper for fixtures.ts: trains a tiny sentiment model (a few seconds) and writes
 * its registry artifacts ({json, weights}) to the directory given as the only argument.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sentimentToRegistryArtifacts } from '@stock-mlops/ml/inference/sentiment';
import { trainSentiment, type SentimentLabel } from '@stock-mlops/ml/models/sentiment_analyzer';

const out = process.argv[2];
if (!out) throw new Error('usage: make_sentiment_fixture.ts <output dir>');
const byLabel: Record<SentimentLabel, string[]> = {
  positive: ['shares rose on strong earnings', 'profit beats expectations', 'stock rallies after upgrade', 'record revenue growth lifts shares', 'strong demand boosts outlook'],
  negative: ['shares fell after weak guidance', 'loss widens on lower sales', 'stock plunges after downgrade', 'revenue misses estimates badly', 'weak demand hurts outlook'],
  neutral: ['company to hold annual meeting', 'board names new director', 'firm files quarterly report', 'conference call scheduled for monday', 'company announces dividend date'],
};
const texts: string[] = [];
const labels: SentimentLabel[] = [];
for (const [label, list] of Object.entries(byLabel) as Array<[SentimentLabel, string[]]>) {
  for (const t of list) {
    texts.push(t);
    labels.push(label);
  }
}
const { model } = await trainSentiment({ texts, labels, epochs: 8, validationSplit: 0, seed: 7 });
const reg = sentimentToRegistryArtifacts(await model.serialize());
writeFileSync(path.join(out, 'model.json'), JSON.stringify(reg.json));
writeFileSync(path.join(out, 'weights.bin'), reg.weights);
