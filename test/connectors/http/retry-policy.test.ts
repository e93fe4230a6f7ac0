import { describe, expect, it } from 'vitest';
import { decideRetry, parseRetryAfter, type RetryInput } from '../../../src/connectors/http/retry-policy.js';

const limits = { maxAttempts: 5, maxTotalWaitMs: 60_000, baseDelayMs: 1000, maxDelayMs: 8000 };
const NOW = Date.parse('2026-11-24T12:00:00Z');
const base: RetryInput = { status: 200, attempt: 1, tokenRefreshed: false, waitedMs: 0, now: NOW };
const half = () => 0.5;

describe('parseRetryAfter', () => {
  it.each([
    ['7', 7000],
    [' 0 ', 0],
    ['Tue, 24 Nov 2026 12:00:05 GMT', 5000],
    ['Tue, 24 Nov 2026 11:59:00 GMT', 0],
    ['soon', null],
    ['', null],
    [null, null],
  ])('%s → %s ms', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe('decideRetry', () => {
  it.each([
    ['429 with Retry-After waits exactly that and pauses the org', { status: 429, retryAfter: '3' }, { retry: true, reason: 'throttled', waitMs: 3000, refreshToken: false, pauseAll: true }],
    ['429 with an HTTP date', { status: 429, retryAfter: 'Tue, 24 Nov 2026 12:00:02 GMT' }, { retry: true, reason: 'throttled', waitMs: 2000, refreshToken: false, pauseAll: true }],
    ['429 without Retry-After backs off', { status: 429, attempt: 3 }, { retry: true, reason: 'throttled', waitMs: 2000, refreshToken: false, pauseAll: true }],
    ['503 backs off with full jitter', { status: 503, attempt: 2 }, { retry: true, reason: 'transient', waitMs: 1000, refreshToken: false, pauseAll: false }],
    ['502', { status: 502 }, { retry: true, reason: 'transient', waitMs: 500, refreshToken: false, pauseAll: false }],
    ['504', { status: 504 }, { retry: true, reason: 'transient', waitMs: 500, refreshToken: false, pauseAll: false }],
    ['connection reset (no status)', { status: null }, { retry: true, reason: 'transient', waitMs: 500, refreshToken: false, pauseAll: false }],
    ['backoff is capped', { status: 503, attempt: 4 }, { retry: true, reason: 'transient', waitMs: 4000, refreshToken: false, pauseAll: false }],
    ['401 refreshes the token once, at once', { status: 401 }, { retry: true, reason: 'token_expired', waitMs: 0, refreshToken: true, pauseAll: false }],
    ['401 after a refresh gives up', { status: 401, tokenRefreshed: true }, { retry: false, reason: 'unauthorized after token refresh' }],
    ['400 never retries', { status: 400 }, { retry: false, reason: 'status 400 is not retryable' }],
    ['403 never retries', { status: 403 }, { retry: false, reason: 'status 403 is not retryable' }],
    ['404 never retries', { status: 404 }, { retry: false, reason: 'status 404 is not retryable' }],
    ['attempts are bounded', { status: 503, attempt: 5 }, { retry: false, reason: 'gave up after 5 attempts' }],
    ['the deadline bounds the wait', { status: 429, retryAfter: '30', remainingMs: 20_000 }, { retry: false, reason: "waiting 30000 ms more would pass the request's deadline" }],
    ['total wait is bounded', { status: 429, retryAfter: '30', waitedMs: 40_000 }, { retry: false, reason: 'waiting 30000 ms more would exceed the 60000 ms retry budget' }],
  ] as const)('%s', (_name, input, expected) => {
    expect(decideRetry({ ...base, ...input }, limits, half)).toStrictEqual(expected);
  });

  it('jitter stays within [0, backoff)', () => {
    for (const r of [0, 0.25, 0.999]) {
      const decision = decideRetry({ ...base, status: 503, attempt: 3 }, limits, () => r);
      expect(decision.retry && decision.waitMs).toBe(Math.floor(r * 4000));
    }
  });
});
