import { describe, expect, it } from 'vitest';
import { nextRetryDelay } from '../../src/outbox/retry-schedule.js';

const policy = { baseMs: 10_000, maxMs: 60_000, maxAttempts: 5 };

describe('nextRetryDelay', () => {
  it.each([
    [1, 0, 5_000],
    [1, 1, 10_000],
    [2, 0.5, 15_000],
    [3, 1, 40_000],
    [4, 1, 60_000],
  ])('after attempt %i (random %f) waits %i ms', (attempt, random, expected) => {
    expect(nextRetryDelay(attempt, policy, () => random)).toBe(expected);
  });

  it('the first retry comes within 30 s with the default base', () => {
    expect(nextRetryDelay(1, { baseMs: 10_000, maxMs: 900_000, maxAttempts: 8 }, () => 0.999)).toBeLessThanOrEqual(30_000);
  });

  it('gives up after the last attempt', () => {
    expect(nextRetryDelay(5, policy)).toBeNull();
  });
});
