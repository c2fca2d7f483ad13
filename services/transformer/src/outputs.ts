/** Encoding of the transformer's outputs (clean bars, feature vectors) as contract envelopes. */
import { encode, makeEnvelope, TRACE_HEADER, type CleanPriceBar, type RawPriceBar } from '@stock-mlops/contracts';
import type { OutMessage } from '@stock-mlops/platform';
import { PIPELINE_SCHEMA, type PipelineOutput } from '@stock-mlops/transform';

const NAMES = [...PIPELINE_SCHEMA.names];

export function outputMessages(out: Pick<PipelineOutput, 'clean' | 'features'>, traceId: string | undefined): { clean: OutMessage[]; features: OutMessage[] } {
  const headers = traceId ? { [TRACE_HEADER]: traceId } : undefined;
  const trace = traceId ? { traceId } : {};
  const withHeaders = (m: { key: string; value: string }): OutMessage => (headers ? { ...m, headers } : m);
  const clean = out.clean.map((b) => {
    const { flags, source, ...rest } = b;
    const data: CleanPriceBar = { ...(rest as RawPriceBar), adjFactor: b.adjFactor, zeroVolume: flags.zeroVolume, outlier: flags.outlier };
    return withHeaders(encode('cleanPrices', makeEnvelope('cleanPrices', { data, source, idParts: [b.symbol, b.interval, b.ts], eventTime: b.ts, ...trace })));
  });
  const features = out.features.map(({ bar, vector }) =>
    withHeaders(
      encode(
        'features',
        makeEnvelope('features', {
          data: {
            symbol: bar.symbol,
            interval: bar.interval as RawPriceBar['interval'],
            ts: bar.ts,
            close: bar.close,
            schemaVersion: PIPELINE_SCHEMA.version,
            schemaHash: PIPELINE_SCHEMA.hash,
            names: NAMES,
            values: vector,
          },
          source: 'transformer',
          idParts: [bar.symbol, bar.interval, bar.ts, PIPELINE_SCHEMA.hash],
          eventTime: bar.ts,
          ...trace,
        }),
      ),
    ),
  );
  return { clean, features };
}
