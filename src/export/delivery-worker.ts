import type { FastifyBaseLogger } from 'fastify';
import { BackgroundLoop } from '../background-loop.js';
import type { SubmissionsRepository } from '../store/submissions-repository.js';
import type { ExportService } from './export-service.js';

/**
 * Retries deliveries whose time has come. At start it first makes deliveries a previous process left in flight
 * due again: nothing recorded is ever left behind by a crash.
 */
export class DeliveryWorker {
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly options: { exports: ExportService; repository: SubmissionsRepository; intervalMs: number; now: () => Date; log: FastifyBaseLogger },
  ) {
    this.loop = new BackgroundLoop({ everyMs: options.intervalMs, round: () => options.exports.deliverDue(), log: options.log, what: 'delivery round' });
  }

  /** Deliveries a previous process left in flight are made due again before the first round. */
  async start(): Promise<void> {
    const recovered = await this.options.repository.recoverInterrupted(this.options.now().toISOString());
    if (recovered > 0) this.options.log.warn({ recovered }, 'deliveries interrupted by a restart are due again');
    this.loop.start();
  }

  /** Starts no more rounds (shutdown, first step). */
  interrupt(): void {
    this.loop.interrupt();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
