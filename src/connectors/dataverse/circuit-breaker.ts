import { ServiceUnavailableError } from '../../errors.js';

/**
 * Per org: after `threshold` requests in a row have failed for good (5xx, 429 past the retry budget, no answer),
 * calls fail fast for `cooldownMs` instead of piling more load on a struggling org. After the cool-down one call
 * goes through; its failure opens the circuit again at once, its success closes it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;

  constructor(
    private readonly options: { threshold: number; cooldownMs: number; now?: () => number; onChange?: (open: boolean) => void },
  ) {}

  check(): void {
    const remaining = this.openUntil - (this.options.now ?? Date.now)();
    if (remaining > 0) {
      throw new ServiceUnavailableError(
        'd365_unavailable',
        `Dynamics 365 failed ${this.failures} times in a row; calls fail fast for another ${Math.ceil(remaining / 1000)} s.`,
      );
    }
  }

  success(): void {
    this.failures = 0;
    if (this.openUntil !== 0) {
      this.openUntil = 0;
      this.options.onChange?.(false);
    }
  }

  failure(): void {
    this.failures++;
    if (this.failures >= this.options.threshold) {
      this.openUntil = (this.options.now ?? Date.now)() + this.options.cooldownMs;
      this.options.onChange?.(true);
    }
  }
}
