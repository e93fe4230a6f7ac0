import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';

/**
 * Runs `round` now and then every `everyMs` until stopped. A round's error is logged and never ends the loop;
 * `interrupt()` (shutdown, first step) starts no more rounds, `stop()` also waits for the one running.
 */
export class BackgroundLoop {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private nap: AbortController | null = null;
  private woken = false;

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

  /** Runs the next round now rather than after the pause (or right after the round running ends). */
  wake(): void {
    this.woken = true;
    this.nap?.abort();
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
      if (this.woken) {
        this.woken = false;
        continue;
      }
      this.nap = new AbortController();
      try {
        await sleep(this.options.everyMs, undefined, { signal: AbortSignal.any([this.abort.signal, this.nap.signal]) });
      } catch {
        if (this.stopped) return;
        this.woken = false;
      }
    }
  }
}
