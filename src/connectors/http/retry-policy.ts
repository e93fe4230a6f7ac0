export interface RetryInput {
  /** HTTP status, or null when the request never got an answer (connection reset, timeout). */
  status: number | null;
  retryAfter?: string | null;
  /** 1 for the first try. */
  attempt: number;
  /** Whether a token refresh was already spent on this request. */
  tokenRefreshed: boolean;
  /** Time already spent waiting between tries of this request. */
  waitedMs: number;
  /** Time left before the request's deadline (unbounded when absent). */
  remainingMs?: number;
  now: number;
}

export interface RetryLimits {
  maxAttempts: number;
  maxTotalWaitMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export type RetryDecision =
  | { retry: false; reason: string }
  | { retry: true; reason: 'throttled' | 'transient' | 'token_expired'; waitMs: number; refreshToken: boolean; pauseAll: boolean };

const TRANSIENT_STATUSES = new Set([408, 502, 503, 504]);

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * What to do after one try of a Dataverse request. Pure: the transport only applies it.
 * 429 waits exactly Retry-After and pauses every request of that org + client, because Dataverse extends the
 * penalty for each request sent while throttled; 5xx and network failures back off exponentially with full jitter.
 */
export function decideRetry(input: RetryInput, limits: RetryLimits, random: () => number = Math.random): RetryDecision {
  const { status } = input;
  if (status === 401) {
    return input.tokenRefreshed
      ? { retry: false, reason: 'unauthorized after token refresh' }
      : { retry: true, reason: 'token_expired', waitMs: 0, refreshToken: true, pauseAll: false };
  }
  const throttled = status === 429;
  if (!throttled && status !== null && !TRANSIENT_STATUSES.has(status)) return { retry: false, reason: `status ${status} is not retryable` };
  if (input.attempt >= limits.maxAttempts) return { retry: false, reason: `gave up after ${input.attempt} attempts` };

  const backoff = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** (input.attempt - 1));
  const fromHeader = parseRetryAfter(input.retryAfter, input.now);
  const waitMs = fromHeader ?? Math.floor(random() * backoff);
  if (input.waitedMs + waitMs > limits.maxTotalWaitMs) {
    return { retry: false, reason: `waiting ${waitMs} ms more would exceed the ${limits.maxTotalWaitMs} ms retry budget` };
  }
  if (input.remainingMs !== undefined && waitMs >= input.remainingMs) {
    return { retry: false, reason: `waiting ${waitMs} ms more would pass the request's deadline` };
  }
  return { retry: true, reason: throttled ? 'throttled' : 'transient', waitMs, refreshToken: false, pauseAll: throttled };
}
