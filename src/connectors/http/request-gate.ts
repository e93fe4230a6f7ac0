import { setTimeout as sleep } from 'node:timers/promises';
import type { SharedPause } from './shared-pauses.js';

export interface GateLimits {
  /** Requests in flight at once. */
  maxConcurrency: number;
  /** Requests started within any sliding window (Business Central: 6 000 per 5 minutes per principal); none when absent. */
  window?: { max: number; ms: number };
}

/**
 * Per upstream host + principal: caps requests in flight (and, where the source counts them, requests started
 * per sliding window), and holds every new request while the source has throttled this caller (requests sent
 * during a Retry-After window lengthen the penalty for the whole user), in this process and, with a shared store,
 * in every process.
 */
export class RequestGate {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private pausedUntil = 0;
  /** Start times within the current window, oldest first. */
  private readonly starts: number[] = [];
  private readonly limits: GateLimits;

  constructor(
    limits: GateLimits | number,
    private readonly now: () => number = Date.now,
    /** The pause as every process sharing the store sees it (several replicas, one app registration). */
    private readonly shared?: SharedPause,
  ) {
    this.limits = typeof limits === 'number' ? { maxConcurrency: limits } : limits;
  }

  pauseUntil(until: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, until);
    this.shared?.extend(until);
  }

  pauseRemainingMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /** Nothing in flight or queued, no pause and no window to remember. */
  get idle(): boolean {
    return this.inFlight === 0 && this.waiting.length === 0 && this.pauseRemainingMs() === 0 && this.windowWaitMs() === 0 && this.starts.length === 0;
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire();
    try {
      for (;;) {
        const shared = await this.sharedWaitMs();
        // Checked and counted in one synchronous step after the last await, so concurrent callers never overrun the window.
        const wait = Math.max(shared, this.pauseRemainingMs(), this.windowWaitMs());
        if (wait <= 0) break;
        await sleep(wait, undefined, { signal });
      }
      if (this.limits.window) this.starts.push(this.now());
      return await task();
    } finally {
      this.release();
    }
  }

  /** Another process's pause of the same host + principal, waited in short steps (it may be extended meanwhile). */
  private async sharedWaitMs(): Promise<number> {
    if (!this.shared) return 0;
    return Math.min(Math.max(0, (await this.shared.until()) - this.now()), 250);
  }

  /** How long until one more request fits in the sliding window. */
  private windowWaitMs(): number {
    const window = this.limits.window;
    if (!window) return 0;
    const now = this.now();
    while (this.starts.length > 0 && this.starts[0]! <= now - window.ms) this.starts.shift();
    return this.starts.length < window.max ? 0 : this.starts[0]! + window.ms - now;
  }

  private async acquire(): Promise<void> {
    if (this.inFlight < this.limits.maxConcurrency) {
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
