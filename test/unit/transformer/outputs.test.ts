import * as assert from 'uvu/assert';
import { decode } from '@stock-mlops/contracts';
import { PIPELINE_SCHEMA, SymbolPipeline, type Bar, type PipelineOutput } from '@stock-mlops/transform';
import { outputEncoder } from '../../../services/transformer/src/outputs.ts';
import { suite } from '../../harness/index.ts';

const t = suite('transformer outputs: clean bars and feature vectors as envelopes');

/** A daily series whose bars from `firstSynthetic` on are generated, as the extractor's continuation publishes them. */
function series(n: number, firstSynthetic: number): Bar[] {
  return Array.from({ length: n }, (_, i) => {
    const close = 50 + Math.cos(i / 4) * 3;
    const synthetic = i >= firstSynthetic;
    return {
      symbol: 'SYN',
      ts: new Date(Date.UTC(2021, 0, 1 + i)).toISOString(),
      interval: '1d',
      open: close,
      high: close + 0.5,
      low: close - 0.5,
      close,
      volume: 1_000 + i,
      source: synthetic ? 'synthetic' : 'csv-replay',
      ...(synthetic ? { synthetic: true as const } : {}),
    };
  });
}

function outputs(bars: Bar[]): Pick<PipelineOutput, 'clean' | 'features'> {
  const p = SymbolPipeline.create('SYN');
  const out: Pick<PipelineOutput, 'clean' | 'features'> = { clean: [], features: [] };
  for (const b of bars) {
    const o = p.push(b);
    out.clean.push(...o.clean);
    out.features.push(...o.features);
  }
  return out;
}

t('synthetic bars: the clean bar keeps synthetic: true and the feature vector carries it, on the checked and the fast path; market data has no field', () => {
  const FIRST = 250;
  const out = outputs(series(300, FIRST));
  assert.ok(out.features.length > 60, `features computed (${out.features.length})`);
  // The first record of each kind is run through the schema, the rest are assembled directly:
  // both must carry the mark exactly when the bar is synthetic.
  const encoded = outputEncoder().encode(out, '0123456789abcdef');
  const clean = encoded.clean.map((m) => decode('cleanPrices', m.value));
  const features = encoded.features.map((m) => decode('features', m.value));
  for (const d of [...clean, ...features]) assert.ok(d.ok, d.ok ? '' : `${d.code}: ${d.reason}`);
  const cleanData = clean.map((d) => (d.ok ? d.envelope : undefined)!);
  assert.equal(cleanData.map((e) => e.data.synthetic === true), out.clean.map((b) => b.ts >= series(300, FIRST)[FIRST]!.ts));
  assert.equal(cleanData.map((e) => e.source === 'synthetic'), cleanData.map((e) => e.data.synthetic === true), 'the envelope source and the bar agree');
  assert.ok(cleanData.filter((e) => e.data.synthetic !== true).every((e) => !('synthetic' in e.data)), 'market clean bars have no synthetic field');
  const fv = features.map((d) => (d.ok ? d.envelope.data : undefined)!);
  assert.equal(fv.map((f) => f.synthetic === true), out.features.map((f) => f.bar.synthetic === true));
  assert.ok(fv.some((f) => f.synthetic === true) && fv.some((f) => !('synthetic' in f)), 'both kinds present');
  // Market feature vectors are byte-for-byte what they were before the field existed.
  const market = encoded.features.find((m) => !String(m.value).includes('"synthetic"'))!;
  assert.not.match(String(market.value), /synthetic/);
  // A batch that starts with a synthetic bar: the schema-checked first record carries the mark too.
  const tail = { clean: out.clean.slice(-3), features: out.features.slice(-3) };
  const first = outputEncoder().encode(tail, undefined);
  const d0 = decode('features', first.features[0]!.value);
  assert.ok(d0.ok && d0.envelope.data.synthetic === true, 'checked path');
  const c0 = decode('cleanPrices', first.clean[0]!.value);
  assert.ok(c0.ok && c0.envelope.data.synthetic === true, 'checked path (clean)');
  assert.equal(first.features.map((m) => JSON.parse(String(m.value)).data.synthetic), [true, true, true]);
});

t('feature messages carry the schema hash and the values, no names, on the checked and the fast path', () => {
  const out = outputs(series(120, 1_000));
  const encoded = outputEncoder().encode(out, undefined);
  assert.ok(encoded.features.length > 2, `several vectors (${encoded.features.length})`);
  encoded.features.forEach((m, i) => {
    const d = decode('features', m.value);
    assert.ok(d.ok, d.ok ? '' : d.reason);
    if (!d.ok) return;
    assert.not.ok('names' in d.envelope.data, `message ${i}: no names`);
    assert.is(d.envelope.data.schemaHash, PIPELINE_SCHEMA.hash);
    assert.is(d.envelope.data.values.length, PIPELINE_SCHEMA.names.length);
    assert.equal(d.envelope.data.values, out.features[i]!.vector);
  });
});

t.run();
