import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { SubmissionsRepository } from '../store/submissions-repository.js';
import type { ExportService } from './export-service.js';

/**
 * Retries deliveries whose time has come. At start it first makes deliveries a previous process left in flight
 * due again: nothing recorded is ever left behind by a crash.
 */
export class DeliveryWorker {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly options: { exports: ExportService; repository: SubmissionsRepository; intervalMs: number; now: () => Date; log: FastifyBaseLogger },
  ) {}

  start(): void {
    const recovered = this.options.repository.recoverInterrupted(this.options.now().toISOString());
    if (recovered > 0) this.options.log.warn({ recovered }, 'deliveries interrupted by a restart are due again');
    this.loop ??= this.run();
  }

  /** Starts no more rounds (shutdown, first step). */
  interrupt(): void {
    this.abort.abort();
  }

  async stop(): Promise<void> {
    this.interrupt();
    await this.loop;
    await this.options.exports.drain();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        await this.options.exports.deliverDue();
      } catch (err) {
        this.options.log.error({ err }, 'delivery round failed');
      }
      try {
        await sleep(this.options.intervalMs, undefined, { signal: this.abort.signal });
      } catch {
        return;
      }
    }
  }
}
