import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Per org + client: caps requests in flight, and holds every new request while Dataverse has throttled
 * this caller (requests sent during a Retry-After window lengthen the penalty for the whole user).
 */
export class RequestGate {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private pausedUntil = 0;

  constructor(private readonly maxConcurrency: number, private readonly now: () => number = Date.now) {}

  pauseUntil(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  pauseRemainingMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /** Nothing in flight or queued and no pause to remember. */
  get idle(): boolean {
    return this.inFlight === 0 && this.waiting.length === 0 && this.pauseRemainingMs() === 0;
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire();
    try {
      for (let wait = this.pauseRemainingMs(); wait > 0; wait = this.pauseRemainingMs()) await sleep(wait, undefined, { signal });
      return await task();
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.inFlight < this.maxConcurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }
}
