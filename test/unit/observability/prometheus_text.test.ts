import * as assert from 'uvu/assert';
import client from 'prom-client';
import { createMetrics } from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';
import { ExpositionError, parseExposition } from '../../support/prometheus_text.ts';

const t = suite('observability: strict Prometheus text-format parser');

const VALID = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
# A comment
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
# TYPE something_weird gauge
something_weird{problem="division by zero"} +Inf -3982045
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# TYPE g gauge
g NaN
`;

t('accepts the example of the format specification', () => {
  const f = parseExposition(VALID);
  const byName = Object.fromEntries(f.map((x) => [x.name, x]));
  assert.is(byName.http_requests_total!.type, 'counter');
  assert.is(byName.http_requests_total!.samples[1]!.value, 3);
  assert.is(byName.http_requests_total!.samples[0]!.timestamp, 1395066363000);
  assert.is(byName.msdos_file_access_time_seconds!.samples[0]!.labels.path, 'C:\\DIR\\FILE.TXT');
  assert.is(byName.msdos_file_access_time_seconds!.samples[0]!.labels.error, 'Cannot find file:\n"FILE.TXT"');
  assert.is(byName.something_weird!.samples[0]!.value, Number.POSITIVE_INFINITY);
  assert.is(byName.http_request_duration_seconds!.samples.length, 5);
  assert.ok(Number.isNaN(byName.g!.samples[0]!.value));
});

const broken: Record<string, string> = {
  'no final line feed': 'a 1',
  'bad metric name': '0abc 1\n',
  'bad value': 'a one\n',
  'trailing text': 'a 1 2 3\n',
  'bad timestamp': 'a 1 1.5\n',
  'unterminated label value': 'a{b="x} 1\n',
  'bad escape': 'a{b="\\t"} 1\n',
  'duplicate label': 'a{b="1",b="2"} 1\n',
  'reserved label': 'a{__name__="x"} 1\n',
  'duplicate series': 'a{b="1"} 1\na{b="1"} 2\n',
  'non-contiguous family': '# TYPE a gauge\na 1\nb 1\na{x="y"} 2\n',
  'second TYPE': '# TYPE a gauge\n# TYPE a gauge\na 1\n',
  'TYPE after samples': 'a 1\n# TYPE a gauge\n',
  'unknown type': '# TYPE a meter\na 1\n',
  'negative counter': '# TYPE a counter\na -1\n',
  'NaN counter': '# TYPE a counter\na NaN\n',
  'histogram without +Inf': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
  'histogram count mismatch': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
  'decreasing buckets': '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
  'unordered buckets': '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
  'histogram without _sum': '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n',
  'summary quantile out of range': '# TYPE s summary\ns{quantile="2"} 1\ns_sum 1\ns_count 1\n',
  'bad HELP escape': '# HELP a tab\\t\na 1\n',
};

t('rejects each violation, naming the line', () => {
  for (const [what, body] of Object.entries(broken)) {
    try {
      parseExposition(body);
      assert.unreachable(`${what}: accepted`);
    } catch (err) {
      assert.instance(err, ExpositionError, `${what}: ${(err as Error).message}`);
      assert.match((err as Error).message, /^line \d+: /);
    }
  }
});

t('the platform registry (every metric kind the services use) is valid', async () => {
  const m = createMetrics('unit');
  m.processed.inc({ topic: 't"q', outcome: 'ok' }, 3);
  m.processed.inc({ topic: 't"q', outcome: 'failed' });
  m.deadLettered.inc({ stage: 'load', code: 'E_SCHEMA' });
  m.stageLatency.observe({ topic: 'x\\y' }, 0.02);
  m.consumerLag.set({ topic: 't', partition: '0' }, 5);
  m.modelInfo.set({ model: 'price', version: '1', task: 'price' }, 1);
  new client.Summary({ name: 'unit_summary', help: 'a summary\nwith a newline', registers: [m.registry] }).observe(1);
  const families = parseExposition(await m.registry.metrics());
  const names = families.map((f) => f.name);
  for (const n of ['stockmlops_messages_processed_total', 'stockmlops_stage_latency_seconds', 'stockmlops_consumer_lag', 'stockmlops_model_version_info', 'process_cpu_user_seconds_total', 'unit_summary']) {
    assert.ok(names.includes(n), `${n} exposed`);
  }
  const processed = families.find((f) => f.name === 'stockmlops_messages_processed_total')!;
  assert.is(processed.samples.find((s) => s.labels.outcome === 'failed')?.labels.topic, 't"q');
});

t.run();
