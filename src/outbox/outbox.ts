import type { FastifyBaseLogger } from 'fastify';
import { nextRetryDelay } from './retry-schedule.js';

/** Why an attempt did not deliver, as the sender saw it. */
export interface AttemptFailure {
  message: string;
  /** The receiver's HTTP status, when it answered. */
  status?: number | null;
  /** The receiver refused for good (a bad payload, an unknown address): no more attempts. */
  permanent?: boolean;
  /** The receiver said when to come back (Retry-After): the next attempt waits at least this long. */
  retryAfterMs?: number;
}

/** A failure a sender throws to say more than its message (permanent, Retry-After). */
export class DeliveryFailure extends Error {
  constructor(readonly failure: AttemptFailure) {
    super(failure.message);
  }
}

/** The store's side of an outbox: records that are claimed with a lease, and each attempt's outcome. */
export interface OutboxRecords<K, R, O> {
  /** The record, claimed for one attempt (counted) until `leaseUntil`; null when it is not due or someone holds it. */
  claim(key: K, now: string, leaseUntil: string): Promise<R | null>;
  succeeded(key: K, record: R, outcome: O, now: string): Promise<void>;
  /** `nextAttemptAt` null: the record is dead-lettered. */
  failed(key: K, record: R, failure: AttemptFailure, nextAttemptAt: string | null, now: string): Promise<void>;
  /** The hub itself cut the attempt short (shutdown): not counted, due again at once. */
  released(key: K, reason: string, now: string): Promise<void>;
}

export interface OutboxOptions<K, R, O> {
  /** What is delivered, for logs ("submission", "event delivery"). */
  what: string;
  records: OutboxRecords<K, R, O>;
  send(record: R, signal: AbortSignal): Promise<O>;
  keyOf(key: K): string;
  attemptsOf(record: R): number;
  attemptTimeoutMs: number;
  /** How long the attempt's timeout message names as its setting. */
  timeoutSetting: string;
  retry: { baseMs: number; maxMs: number; maxAttempts: number };
  now: () => Date;
  log: FastifyBaseLogger;
  random?: () => number;
  /** After every attempt that reached an outcome (metrics). */
  onOutcome?: (record: R, outcome: 'delivered' | 'pending_retry' | 'failed', seconds: number) => void;
}

/** A claim holds twice the attempt's timeout (the attempt itself is cut at its timeout), so only a dead process's claim runs out. */
const LEASE_FACTOR = 2;

/** Rejects with the signal's reason when it aborts first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Attempts of an outbox: one at a time per record whoever asks (a request, a worker round, a queued job, a manual
 * retry), each claimed with a lease, cut at its timeout, and recorded: delivered, due again after a backoff (or the
 * receiver's Retry-After), or dead-lettered once the attempts are spent or the receiver refused for good.
 * Submissions and event deliveries both go through it.
 */
export class Outbox<K, R, O> {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Aborts attempts still running once the shutdown grace has passed. */
  private readonly shutdown = new AbortController();
  private stopping = false;

  constructor(private readonly options: OutboxOptions<K, R, O>) {}

  get leaseMs(): number {
    return this.options.attemptTimeoutMs * LEASE_FACTOR;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Aborts once the shutdown grace has passed: work outside the outbox that must not hold a shutdown listens to it. */
  get shutdownSignal(): AbortSignal {
    return this.shutdown.signal;
  }

  /** The attempt under way in this process for this record, if any. */
  running(key: K): Promise<void> | undefined {
    return this.inFlight.get(this.options.keyOf(key));
  }

  attempt(key: K): Promise<void> {
    const id = this.options.keyOf(key);
    const running = this.inFlight.get(id);
    if (running) return running;
    if (this.stopping) return Promise.resolve();
    const work = this.attemptOnce(key).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, work);
    return work;
  }

  /**
   * Shutdown: attempts in flight may finish for `graceMs`, then they are cut off and left due again at once
   * (the attempt is not counted). No new attempt starts once this is called.
   */
  beginShutdown(graceMs: number): void {
    if (this.stopping) return;
    this.stopping = true;
    setTimeout(() => this.shutdown.abort(), graceMs).unref();
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async attemptOnce(key: K): Promise<void> {
    const { records, attemptTimeoutMs, log, what } = this.options;
    const claimedAt = this.options.now();
    const record = await records.claim(key, claimedAt.toISOString(), new Date(claimedAt.getTime() + this.leaseMs).toISOString());
    if (!record) return;
    const timeout = AbortSignal.timeout(attemptTimeoutMs);
    const signal = AbortSignal.any([timeout, this.shutdown.signal]);
    const started = performance.now();
    try {
      // The race makes the attempt end at the deadline even if a library ignores the hang-up.
      const outcome = await untilAborted(this.options.send(record, signal), signal);
      await records.succeeded(key, record, outcome, this.options.now().toISOString());
      this.options.onOutcome?.(record, 'delivered', (performance.now() - started) / 1000);
    } catch (caught) {
      if (this.shutdown.signal.aborted && !timeout.aborted) {
        await records.released(key, 'interrupted by shutdown; due again at the next start', this.options.now().toISOString());
        log.warn({ [what]: this.options.keyOf(key) }, `${what} interrupted by shutdown; due again`);
        return;
      }
      const failure: AttemptFailure = timeout.aborted
        ? { message: `delivery attempt timed out after ${attemptTimeoutMs / 1000} s (${this.options.timeoutSetting})` }
        : caught instanceof DeliveryFailure
          ? caught.failure
          : { message: caught instanceof Error ? caught.message : String(caught) };
      const attempts = this.options.attemptsOf(record);
      const backoff = failure.permanent ? null : nextRetryDelay(attempts, this.options.retry, this.options.random);
      const delay = backoff === null ? null : Math.max(backoff, failure.retryAfterMs ?? 0);
      const now = this.options.now();
      const nextAttemptAt = delay === null ? null : new Date(now.getTime() + delay).toISOString();
      await records.failed(key, record, { ...failure, message: failure.message.slice(0, 500) }, nextAttemptAt, now.toISOString());
      this.options.onOutcome?.(record, delay === null ? 'failed' : 'pending_retry', (performance.now() - started) / 1000);
      log.warn(
        { [what]: this.options.keyOf(key), attempt: attempts, status: failure.status, error: failure.message },
        delay === null ? `${what} dead-lettered` : `${what} failed; will retry`,
      );
    }
  }
}
