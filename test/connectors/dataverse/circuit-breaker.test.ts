import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../src/connectors/dataverse/circuit-breaker.js';
import { ServiceUnavailableError } from '../../../src/errors.js';

describe('CircuitBreaker', () => {
  it('opens after the threshold, fails fast during the cool-down, then lets one call through', () => {
    let now = 0;
    const changes: boolean[] = [];
    const breaker = new CircuitBreaker({ threshold: 3, cooldownMs: 1000, now: () => now, onChange: (open) => changes.push(open) });
    breaker.failure();
    breaker.failure();
    expect(() => breaker.check()).not.toThrow();
    breaker.failure();
    expect(() => breaker.check()).toThrow(ServiceUnavailableError);
    expect(() => breaker.check()).toThrow('Dynamics 365 failed 3 times in a row; calls fail fast for another 1 s.');
    now = 1000;
    expect(() => breaker.check()).not.toThrow();
    breaker.failure();
    expect(() => breaker.check()).toThrow(ServiceUnavailableError);
    now = 2500;
    breaker.success();
    expect(() => breaker.check()).not.toThrow();
    expect(changes).toStrictEqual([true, true, false]);
  });

  it('a success resets the count', () => {
    const breaker = new CircuitBreaker({ threshold: 2, cooldownMs: 1000 });
    breaker.failure();
    breaker.success();
    breaker.failure();
    expect(() => breaker.check()).not.toThrow();
  });
});
