import { ServiceUnavailableError, type UpstreamSystem } from '../../errors.js';
import type { SharedPause } from './shared-pauses.js';

/**
 * Per upstream host: after `threshold` requests in a row have failed for good (5xx, 429 past the retry budget, no answer),
 * calls fail fast for `cooldownMs` instead of piling more load on a struggling org. After the cool-down exactly
 * one call goes through as a probe while the others keep failing fast; its failure opens the circuit again,
 * its success (any answer from the org) closes it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly options: {
      system: UpstreamSystem;
      threshold: number;
      cooldownMs: number;
      now?: () => number;
      onChange?: (open: boolean) => void;
      /** The circuit as every process sharing the store sees it: one process opening it makes the others fail fast too. */
      shared?: SharedPause;
    },
  ) {}

  /**
   * Throws while calls fail fast; answers true for the one call admitted as the probe. A circuit another process
   * opened fails fast here too until its cool-down ends (each process then probes for itself).
   */
  async admit(): Promise<boolean> {
    const now = (this.options.now ?? Date.now)();
    if (this.openUntil === 0) {
      const sharedUntil = this.options.shared ? await this.options.shared.until() : 0;
      if (sharedUntil > now) throw this.failFast(`for another ${Math.ceil((sharedUntil - now) / 1000)} s (opened by another hub process)`);
      return false;
    }
    const remaining = this.openUntil - now;
    if (remaining > 0 || this.probing) throw this.failFast(remaining > 0 ? `for another ${Math.ceil(remaining / 1000)} s` : 'until the probe request in flight answers');
    this.probing = true;
    return true;
  }

  private failFast(wait: string): ServiceUnavailableError {
    const { id, name } = this.options.system;
    return new ServiceUnavailableError(`${id}_unavailable`, `${name} failed ${Math.max(this.failures, this.options.threshold)} times in a row; calls fail fast ${wait}.`);
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.openUntil !== 0) {
      this.openUntil = 0;
      this.options.onChange?.(false);
    }
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.failures >= this.options.threshold) {
      if (this.openUntil === 0) this.options.onChange?.(true);
      this.openUntil = (this.options.now ?? Date.now)() + this.options.cooldownMs;
      this.options.shared?.extend(this.openUntil);
    }
  }

  /** A probe that ended without a verdict (aborted by the caller) lets the next call probe instead. */
  release(probe: boolean): void {
    if (probe) this.probing = false;
  }

  /** Nothing to remember: no failures counted, not open, no probe out. */
  get idle(): boolean {
    return this.failures === 0 && this.openUntil === 0 && !this.probing;
  }
}
