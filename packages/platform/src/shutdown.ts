import type { Logger } from 'pino';

type Hook = { name: string; fn: () => Promise<void> | void };

/**
 * Graceful shutdown: hooks run in reverse registration order (last started, first stopped)
 * on SIGINT/SIGTERM, bounded by a timeout after which the process exits with code 1.
 */
export class Shutdown {
  private hooks: Hook[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs = 15_000,
  ) {}

  add(name: string, fn: () => Promise<void> | void): void {
    this.hooks.push({ name, fn });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.log.info({ signal }, 'shutdown requested');
      void this.run().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  run(): Promise<void> {
    this.stopping ??= this.runHooks();
    return this.stopping;
  }

  private async runHooks(): Promise<void> {
    const timer = setTimeout(() => {
      this.log.error({ timeoutMs: this.timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, this.timeoutMs);
    timer.unref();
    for (const hook of [...this.hooks].reverse()) {
      try {
        await hook.fn();
        this.log.debug({ hook: hook.name }, 'stopped');
      } catch (err) {
        this.log.error({ err, hook: hook.name }, 'shutdown hook failed');
      }
    }
    clearTimeout(timer);
    this.log.info('shutdown complete');
  }
}
