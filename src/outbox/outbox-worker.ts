import type { FastifyBaseLogger } from 'fastify';
import { BackgroundLoop } from '../background-loop.js';

/**
 * One process's worker of an outbox (SQLite mode): at start it makes due again what a previous process left in
 * flight (nothing recorded is ever left behind by a crash), then runs a delivery round every `intervalMs`.
 */
export class OutboxWorker {
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly options: {
      what: string;
      round: () => Promise<unknown>;
      recoverInterrupted: () => Promise<number>;
      intervalMs: number;
      log: FastifyBaseLogger;
    },
  ) {
    this.loop = new BackgroundLoop({ everyMs: options.intervalMs, round: options.round, log: options.log, what: `${options.what} round` });
  }

  async start(): Promise<void> {
    const recovered = await this.options.recoverInterrupted();
    if (recovered > 0) this.options.log.warn({ recovered }, `${this.options.what}s interrupted by a restart are due again`);
    this.loop.start();
  }

  /** Runs a round now (new work was just recorded). */
  wake(): void {
    this.loop.wake();
  }

  /** Starts no more rounds (shutdown, first step). */
  interrupt(): void {
    this.loop.interrupt();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
