/**
 * npm run models -- list [--name NAME] [--json]
 * npm run models -- show NAME[@VERSION|@ALIAS] [--json]
 * npm run models -- promote NAME@VERSION [--alias production] [--reason TEXT] [--json]
 * npm run models -- rollback NAME [--alias production] [--reason TEXT] [--json]
 * npm run models -- challenge NAME@VERSION [--reason TEXT] [--json]
 * npm run models -- unchallenge NAME [--reason TEXT] [--json]
 * npm run models -- retrain --task price|sentiment [--reason TEXT] [--json]
 * npm run models -- runs [--name NAME] [--json]
 *
 * Registry operations. promote/rollback move the alias in MongoDB and publish the model event to
 * Kafka so a running predictor swaps at once (it also polls the registry); challenge/unchallenge
 * set and clear the `challenger` alias the predictor scores in the shadow of production. retrain asks a running
 * trainer service to retrain (a retrain_requested event on the monitor-events topic, which the
 * trainer consumes); `npm run train` trains in this process instead.
 */
import { cliEnv, cliLogger, CliError, parseCli, printResult, publishEvents, runCli } from '@stock-mlops/platform';
import type { ModelVersion } from '@stock-mlops/ml/registry/model_store';
import { TrainingRuns } from '@stock-mlops/ml/registry/training_runs';
import { promoteVersion, rollbackModel } from '@stock-mlops/ml/ml_service';
import { openRegistry } from '@stock-mlops/ml/registry/open_registry';
import { clearChallenger, setChallenger } from '@stock-mlops/ml/registry/challenger';

const USAGE = `usage: npm run models -- COMMAND [options]

  list [--name NAME]                              registered versions with status, aliases, key metrics
  show NAME[@VERSION|@ALIAS]                      one version in full (default: the production one)
  promote NAME@VERSION [--alias A] [--reason T]   point an alias (default production) at a version
  rollback NAME [--alias A] [--reason T]          move the alias back to its previous version
  challenge NAME@VERSION [--reason T]             make a version the challenger (shadow-scored, never served)
  unchallenge NAME [--reason T]                   remove the challenger
  retrain --task price|sentiment [--reason T]     ask the running trainer service to retrain
  runs [--name NAME]                              training runs and leases

  --json       print the result as JSON on the last stdout line
  -h, --help   print this help`;
const KEY_METRICS: Record<string, string[]> = {
  price: ['rmse', 'baseline_zero_rmse', 'directionalAccuracy', 'backtest_sharpe'],
  sentiment: ['macroF1', 'accuracy', 'baseline_majority_macroF1'],
};

function summary(v: ModelVersion, aliases: string[]) {
  return {
    name: v.name,
    version: v.version,
    task: v.task,
    status: v.status,
    aliases,
    createdAt: v.createdAt,
    statusReason: v.statusReason,
    metrics: Object.fromEntries((KEY_METRICS[v.task] ?? []).filter((k) => v.metrics[k] !== undefined).map((k) => [k, v.metrics[k]!])),
  };
}

function table(rows: ReturnType<typeof summary>[]): string {
  if (rows.length === 0) return 'no models registered';
  const head = ['model', 'status', 'aliases', 'created', 'key metrics'];
  const body = rows.map((r) => [`${r.name}@${r.version}`, r.status, r.aliases.join(',') || '-', r.createdAt.slice(0, 19), Object.entries(r.metrics).map(([k, v]) => `${k}=${v.toPrecision(4)}`).join(' ')]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const unpublished = (published: boolean) => (published ? '' : ' — event not published (Kafka unreachable)');

function parseRef(ref: string | undefined, needVersion: boolean): { name: string; sel?: string } {
  const m = ref ? /^([a-z0-9_-]{1,64})(?:@([A-Za-z0-9_-]{1,32}))?$/.exec(ref) : null;
  if (!m) throw new CliError('E_USAGE', `expected a model reference like price@3 or price@production, got ${ref ?? 'nothing'}`);
  if (needVersion && !/^\d+$/.test(m[2] ?? '')) throw new CliError('E_USAGE', `expected NAME@VERSION (a version number), got ${ref}`);
  return { name: m[1]!, ...(m[2] ? { sel: m[2] } : {}) };
}

runCli(async () => {
  const { values, positionals } = parseCli(USAGE, {
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      alias: { type: 'string', default: 'production' },
      reason: { type: 'string' },
      task: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, arg] = positionals;
  if (!command || !['list', 'show', 'promote', 'rollback', 'challenge', 'unchallenge', 'retrain', 'runs'].includes(command)) {
    throw new CliError('E_USAGE', command ? `unknown command "${command}"` : 'missing command');
  }
  if (!/^[a-z][a-z0-9_-]{0,31}$/.test(values.alias)) throw new CliError('E_USAGE', '--alias must be a short lower-case name');
  const env = cliEnv();
  const { log } = cliLogger('models');

  if (command === 'retrain') {
    const task = values.task ?? arg;
    if (task !== 'price' && task !== 'sentiment') throw new CliError('E_USAGE', 'retrain needs --task price|sentiment');
    const reason = values.reason ?? 'requested with npm run models -- retrain';
    const ok = await publishEvents(env, log, { monitor: [{ kind: 'retrain_requested', task, reason, evidence: {} }] }, 'models-cli');
    if (!ok) throw new CliError('E_PUBLISH', 'could not publish the retrain request to Kafka', 3);
    printResult(values.json, { requested: true, task, reason }, () => `retrain of ${task} requested from the trainer service`);
    return;
  }

  const { mongo, store } = await openRegistry(env, log);
  try {
    const aliasMap = async (name?: string) => {
      const out = new Map<string, string[]>();
      for (const a of await store.listAliases(name)) out.set(`${a.name}@${a.version}`, [...(out.get(`${a.name}@${a.version}`) ?? []), a.alias]);
      return out;
    };
    if (command === 'list') {
      const aliases = await aliasMap(values.name);
      const rows = (await store.list(values.name)).map((v) => summary(v, aliases.get(`${v.name}@${v.version}`) ?? []));
      printResult(values.json, rows, () => table(rows));
    } else if (command === 'show') {
      const ref = parseRef(arg, false);
      const v = await store.resolve(ref.sel ? `${ref.name}@${ref.sel}` : ref.name);
      const aliases = (await aliasMap(v.name)).get(`${v.name}@${v.version}`) ?? [];
      const { reference: _r, normalization: _n, ...rest } = v;
      const out = { ...rest, aliases };
      printResult(values.json, out, () => JSON.stringify(out, null, 2));
    } else if (command === 'promote') {
      const ref = parseRef(arg, true);
      const reason = values.reason ?? 'promoted by hand (npm run models -- promote)';
      const [event, ...more] = await promoteVersion(store, ref.name, Number(ref.sel), reason, values.alias);
      const published = await publishEvents(env, log, { model: [event!, ...more] }, 'models-cli');
      const cleared = more.some((e) => e.kind === 'challenger_cleared') ? '; it was the challenger, the alias is cleared' : '';
      printResult(values.json, { ...event!, published }, () => `${ref.name}@${ref.sel} is now ${values.alias}${event!.previous ? ` (was v${event!.previous.version})` : ''}${cleared}${unpublished(published)}`);
    } else if (command === 'challenge') {
      const ref = parseRef(arg, true);
      const event = await setChallenger(store, ref.name, Number(ref.sel), values.reason ?? 'set by hand (npm run models -- challenge)');
      const published = await publishEvents(env, log, { model: [event] }, 'models-cli');
      printResult(values.json, { ...event, published }, () => `${ref.name}@${ref.sel} is now the challenger${event.previous ? ` (was v${event.previous.version})` : ''}${unpublished(published)}`);
    } else if (command === 'unchallenge') {
      const ref = parseRef(arg, false);
      if (ref.sel) throw new CliError('E_USAGE', `unchallenge takes a model name, got ${arg}`);
      const event = await clearChallenger(store, ref.name, values.reason ?? 'cleared by hand (npm run models -- unchallenge)');
      const published = event ? await publishEvents(env, log, { model: [event] }, 'models-cli') : false;
      printResult(values.json, { cleared: event?.model.version ?? null, published }, () => (event ? `${ref.name} has no challenger any more (was v${event.model.version})${unpublished(published)}` : `${ref.name} had no challenger`));
    } else if (command === 'rollback') {
      const ref = parseRef(arg, false);
      const reason = values.reason ?? 'rolled back by hand (npm run models -- rollback)';
      const event = await rollbackModel(store, ref.name, reason, values.alias);
      const published = await publishEvents(env, log, { model: [event] }, 'models-cli');
      printResult(values.json, { ...event, published }, () => `${ref.name}@${values.alias} rolled back from v${event.previous?.version} to v${event.model.version}${unpublished(published)}`);
    } else {
      const runs = await new TrainingRuns(mongo.db).list(values.name);
      printResult(values.json, runs, () => runs.map((r) => `${r._id}  ${r.status.padEnd(9)} ${r.origin.padEnd(7)} v${r.version ?? '-'}  ${r.reason}${r.error ? `  (${r.error})` : ''}`).join('\n') || 'no training runs');
    }
  } finally {
    await mongo.close();
  }
}, { usage: USAGE });
