import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';

/**
 * Runs `round` now and then every `everyMs` until stopped. A round's error is logged and never ends the loop;
 * `interrupt()` (shutdown, first step) starts no more rounds, `stop()` also waits for the one running.
 */
export class BackgroundLoop {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(private readonly options: { everyMs: number; round: () => Promise<unknown> | unknown; log: FastifyBaseLogger; what: string }) {}

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  start(): void {
    this.loop ??= this.run();
  }

  interrupt(): void {
    this.abort.abort();
  }

  async stop(): Promise<void> {
    this.interrupt();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.options.round();
      } catch (err) {
        this.options.log.error({ err }, `${this.options.what} failed`);
      }
      try {
        await sleep(this.options.everyMs, undefined, { signal: this.abort.signal });
      } catch {
        return;
      }
    }
  }
}
