/**
 * Test isolation: every test file owns the databases, Kafka topics and consumer groups whose names
 * start with its file id and an underscore. The test runner gives each file a fresh id in
 * TEST_FILE_ID; test/support/stack.ts derives every name from it; after the file's process exits
 * the runner drops what the file owns (dropOwned), whether it passed, failed or timed out.
 *
 * Names stay within FerretDB's database-name characters (letters, digits, `_`, `-`) and well under
 * its length limit (the id is at most ~11 characters; callers slice names to 38-40).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';

export const FILE_ID_ENV = 'TEST_FILE_ID';

/** A file id for the n-th file of a run: `f<n><6 hex>`; the hex makes it unique across concurrent runs on one server. */
export function newFileId(n: number): string {
  return `f${n}${randomBytes(3).toString('hex')}`;
}

let ownId: string | undefined;

/** This process's file id: the runner's TEST_FILE_ID, else (a file run by hand) one made up once per process. */
export function currentFileId(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[FILE_ID_ENV];
  if (fromEnv) {
    if (!/^[a-zA-Z0-9]{1,16}$/.test(fromEnv)) throw new Error(`${FILE_ID_ENV} must be 1-16 letters or digits, got "${fromEnv}"`);
    return fromEnv;
  }
  ownId ??= newFileId(0);
  return ownId;
}

/** The start of every name the file owns. The underscore keeps `f1abc` from owning `f12…`'s names. */
export function ownedPrefix(fileId: string): string {
  return `${fileId}_`;
}

/** Whether a database, topic or consumer group name belongs to the test file with this id. */
export function ownedBy(fileId: string, name: string): boolean {
  return fileId.length > 0 && name.startsWith(ownedPrefix(fileId));
}

export interface DropReport {
  databases: string[];
  topics: string[];
  groups: string[];
  errors: string[];
}

/**
 * Drop every database and delete every topic and consumer group the file owns. Never throws: a
 * failure lands in `errors` (a leftover only costs disk, it must not fail the run).
 */
export async function dropOwned(fileId: string, infra: { MONGO_URL: string; KAFKA_BROKERS: string }): Promise<DropReport> {
  const report: DropReport = { databases: [], topics: [], groups: [], errors: [] };
  // A socket timeout: FerretDB 1.24 (SQLite) was seen to leave `listDatabases` unanswered for good
  // after the chaos test's database restart, which hung the whole run in this cleanup.
  const mongo = new MongoClient(infra.MONGO_URL, { serverSelectionTimeoutMS: 5_000, socketTimeoutMS: 30_000 });
  try {
    await mongo.connect();
    const { databases } = await mongo.db('admin').admin().listDatabases({ nameOnly: true });
    for (const { name } of databases.filter((d) => ownedBy(fileId, d.name))) {
      await mongo.db(name).dropDatabase();
      report.databases.push(name);
    }
  } catch (err) {
    report.errors.push(`database: ${(err as Error).message}`);
  } finally {
    await mongo.close().catch(() => undefined);
  }
  const admin = new Kafka({ clientId: 'test-runner-cleanup', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => ownedBy(fileId, t));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    report.topics.push(...topics);
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => ownedBy(fileId, g));
    if (groups.length > 0) {
      // A group whose killed members have not timed out yet is still "not empty": its offsets then expire with the broker's retention.
      const results = await admin.deleteGroups(groups).catch((err: { groups?: Array<{ groupId: string; errorCode: string }> }) => err.groups ?? []);
      const failed = new Set(results.filter((r) => r.errorCode && r.errorCode !== 'NONE').map((r) => r.groupId));
      report.groups.push(...groups.filter((g) => !failed.has(g)));
      if (failed.size > 0) report.errors.push(`${failed.size} consumer group(s) still had members`);
    }
  } catch (err) {
    report.errors.push(`kafka: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return report;
}

/** One line for the runner's log: what was dropped, and what could not be. */
export function describeDrop(fileId: string, r: DropReport): string {
  const what = [
    r.databases.length ? `databases ${r.databases.join(', ')}` : 'no database',
    `${r.topics.length} topic(s)`,
    `${r.groups.length} group(s)`,
  ].join(', ');
  return `cleanup ${fileId}: dropped ${what}${r.errors.length ? `; not cleaned: ${r.errors.join('; ')}` : ''}`;
}
