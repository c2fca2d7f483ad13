/**
 * The gRPC scaffolding in @stock-mlops/platform: errors to statuses, unary handlers, a server on
 * port 0 with health, and closing (gracefully, then by force after the grace period).
 */
import * as grpc from '@grpc/grpc-js';
import { protoPath as HEALTH_PROTO } from 'grpc-health-check';
import pino from 'pino';
import * as assert from 'uvu/assert';
import {
  AppError,
  closeGrpcServer,
  INTERNAL_STATUS,
  loadProtoPackage,
  reflectionDescriptors,
  RpcError,
  serveGrpc,
  toGrpcStatus,
  unaryHandler,
  type GrpcServing,
  type StatusPolicy,
} from '@stock-mlops/platform';
import { suite } from '../../harness/index.ts';

const t = suite('platform: gRPC scaffolding');

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v ?? null)),
  deserialize: (b: Buffer) => JSON.parse(b.toString() || 'null') as unknown,
};
const method = (name: string, responseStream: boolean) => ({
  path: `/test.Echo/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});
/** A hand-made service (JSON on the wire): Echo answers or throws what the request says; Hold streams until cut off. */
const ECHO: grpc.ServiceDefinition = { Echo: method('Echo', false), Hold: method('Hold', true) };
const EchoClient = grpc.makeGenericClientConstructor(ECHO, 'Echo');

const POLICY: StatusPolicy = { statuses: { E_BAD: grpc.status.INVALID_ARGUMENT, E_GONE: grpc.status.NOT_FOUND } };

type HealthPkg = { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };

async function start(log = pino({ level: 'silent' })): Promise<{ serving: GrpcServing; echo: grpc.Client; health: grpc.Client; close: () => Promise<void> }> {
  const serving = await serveGrpc({
    host: '127.0.0.1',
    port: 0,
    services: [
      {
        definition: ECHO,
        handlers: {
          Echo: unaryHandler<{ fail?: string; message?: string }, unknown>(log, 'Echo', POLICY, (call) => {
            const { fail, message } = call.request;
            if (fail === 'unexpected') throw new Error('secret internals');
            if (fail) throw new RpcError(fail, message ?? '');
            return { echoed: message };
          }),
          Hold: (call: grpc.ServerWritableStream<unknown, unknown>) => call.write({ held: true }),
        },
      },
    ],
    healthNames: ['test.Echo'],
    reflection: reflectionDescriptors([]),
  });
  const addr = `127.0.0.1:${serving.port}`;
  const echo = new EchoClient(addr, grpc.credentials.createInsecure());
  const { pkg } = loadProtoPackage<HealthPkg>(HEALTH_PROTO);
  const health = new pkg.grpc.health.v1.Health(addr, grpc.credentials.createInsecure());
  return {
    serving,
    echo,
    health,
    close: async () => {
      echo.close();
      health.close();
      await serving.close();
    },
  };
}

function call(c: grpc.Client, rpc: string, req: unknown): Promise<{ err: grpc.ServiceError | null; res?: unknown }> {
  return new Promise((resolve) => (c as unknown as Record<string, (r: unknown, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>)[rpc]!(req, (err, res) => resolve({ err, res })));
}

t('a listed code gets its status and "<code>: <message>"; anything else the fallback, without its message', () => {
  assert.equal(toGrpcStatus(new RpcError('E_BAD', 'no such thing'), POLICY.statuses), { code: grpc.status.INVALID_ARGUMENT, details: 'E_BAD: no such thing' });
  assert.equal(toGrpcStatus(new AppError('E_GONE', 'gone'), POLICY.statuses), { code: grpc.status.NOT_FOUND, details: 'E_GONE: gone' });
  // The code decides, not the class: a library's coded error maps the same way.
  assert.equal(toGrpcStatus(Object.assign(new Error('x'), { code: 'E_BAD' }), POLICY.statuses).code, grpc.status.INVALID_ARGUMENT);
  for (const err of [new Error('secret internals'), new AppError('E_OTHER', 'secret internals'), 'a string', undefined, { code: 'toString' }, { code: 42 }]) {
    assert.equal(toGrpcStatus(err, POLICY.statuses), { ...INTERNAL_STATUS }, `fallback for ${String(err)}`);
  }
  const fallback = { code: grpc.status.UNAVAILABLE, details: 'E_UNAVAILABLE: try later' };
  assert.equal(toGrpcStatus(new Error('db down'), POLICY.statuses, fallback), fallback);
});

t('serves on port 0: health starts NOT_SERVING, setServing flips it; unary errors answer with mapped statuses, faults are logged', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
  const s = await start(log);
  try {
    assert.ok(s.serving.port > 0, 'a port was chosen');
    for (const service of ['', 'test.Echo']) assert.equal((await call(s.health, 'Check', { service })).res, { status: 'NOT_SERVING' });
    s.serving.setServing(true);
    for (const service of ['', 'test.Echo']) assert.equal((await call(s.health, 'Check', { service })).res, { status: 'SERVING' });
    assert.is((await call(s.health, 'Check', { service: 'nope' })).err?.code, grpc.status.NOT_FOUND);

    assert.equal((await call(s.echo, 'Echo', { message: 'hi' })).res, { echoed: 'hi' });
    const bad = await call(s.echo, 'Echo', { fail: 'E_BAD', message: 'odd input' });
    assert.is(bad.err?.code, grpc.status.INVALID_ARGUMENT);
    assert.is(bad.err?.details, 'E_BAD: odd input');
    const fault = await call(s.echo, 'Echo', { fail: 'unexpected' });
    assert.is(fault.err?.code, grpc.status.INTERNAL);
    assert.is(fault.err?.details, 'E_INTERNAL: internal error');
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; rpc: string; err?: { message: string } });
    assert.equal(
      logged.map((l) => [l.msg, l.rpc, l.err?.message]),
      [['rpc failed', 'Echo', 'secret internals']],
      'only the unexpected error is logged',
    );
  } finally {
    await s.close();
  }
});

t('close: idle resolves at once and refuses new calls; an open stream is cut off after the grace period', async () => {
  const idle = await start();
  const t0 = performance.now();
  await idle.serving.close();
  assert.ok(performance.now() - t0 < 1_000, 'an idle server closes at once');
  assert.is((await call(idle.echo, 'Echo', { message: 'late' })).err?.code, grpc.status.UNAVAILABLE);
  idle.echo.close();
  idle.health.close();

  const busy = await start();
  const stream = (busy.echo as unknown as { Hold: (r: unknown) => grpc.ClientReadableStream<unknown> }).Hold({});
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    stream.on('error', (e: grpc.ServiceError) => resolve(e));
    stream.on('end', () => resolve(undefined));
  });
  await new Promise((resolve) => stream.once('data', resolve));
  const t1 = performance.now();
  await closeGrpcServer(busy.serving.server, 200);
  const waited = performance.now() - t1;
  assert.ok(waited >= 150 && waited < 2_000, `waited for the grace period (${waited.toFixed(0)} ms)`);
  assert.ok((await ended) !== undefined, 'the open stream ended with an error');
  busy.echo.close();
  busy.health.close();
});

t.run();
