export * from './client.ts';
export * from './producer.ts';
export * from './consumer.ts';
export * from './lag.ts';
export * from './rejoin.ts';
export * from './heartbeat.ts';
export * from './raw_sink.ts';
export * from './label_publisher.ts';
