import { ServiceUnavailableError, type UpstreamSystem } from '../../errors.js';

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
    private readonly options: { system: UpstreamSystem; threshold: number; cooldownMs: number; now?: () => number; onChange?: (open: boolean) => void },
  ) {}

  /** Throws while calls fail fast; answers true for the one call admitted as the probe. */
  admit(): boolean {
    if (this.openUntil === 0) return false;
    const remaining = this.openUntil - (this.options.now ?? Date.now)();
    if (remaining > 0 || this.probing) {
      const wait = remaining > 0 ? `for another ${Math.ceil(remaining / 1000)} s` : 'until the probe request in flight answers';
      const { id, name } = this.options.system;
      throw new ServiceUnavailableError(`${id}_unavailable`, `${name} failed ${this.failures} times in a row; calls fail fast ${wait}.`);
    }
    this.probing = true;
    return true;
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
