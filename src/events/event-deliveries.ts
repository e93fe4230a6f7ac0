import type { FastifyBaseLogger } from 'fastify';
import { CircuitBreaker } from '../connectors/http/circuit-breaker.js';
import type { Config } from '../config.js';
import { NotFoundError } from '../errors.js';
import type { HubMetrics } from '../metrics.js';
import { DeliveryFailure, Outbox } from '../outbox/outbox.js';
import type { SharedWork } from '../queue/pg-job-queue.js';
import type { DestinationRecord } from '../store/destinations-repository.js';
import type { ClaimedDelivery, DeliveryStatus, DeliveryView, EventDeliveriesRepository } from '../store/event-deliveries-repository.js';
import type { DestinationClient } from './destination-client.js';
import { DESTINATION_KINDS } from './destinations/index.js';
import type { DestinationsService } from './destinations-service.js';
import { newEventId, type HubEvent } from './event.js';

export interface EventDeliveriesDeps {
  repository: EventDeliveriesRepository;
  destinations: DestinationsService;
  client: DestinationClient;
  settings: Config['destinations'];
  metrics: HubMetrics;
  now: () => Date;
  log: FastifyBaseLogger;
  random?: () => number;
}

/** Deliveries a queued job's lane sends before it gives its worker slot to another destination (PostgreSQL mode). */
const JOB_BATCH = 500;
/** Events handed to one destination per dispatch. */
const DISPATCH_LIMIT = 1000;
/** A destination's circuit opens after this many failed attempts in a row, for a minute. */
const CIRCUIT = { threshold: 5, cooldownMs: 60_000 };

/**
 * Delivers events to destinations through the shared outbox engine. Each destination is a lane of its own: its
 * deliveries go one at a time, oldest event first, so it gets events in order while they succeed, and a slow or
 * dead receiver holds only its own lane. A lane stops at a failure (the delivery waits for its backoff) and while
 * the destination's circuit is open.
 */
export class EventDeliveries {
  private readonly outbox: Outbox<string, ClaimedDelivery, { status: number }>;
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly deps: EventDeliveriesDeps) {
    const { repository, settings, metrics } = deps;
    this.outbox = new Outbox({
      what: 'event delivery',
      records: {
        claim: (id, now, leaseUntil) => repository.claim(id, now, leaseUntil),
        succeeded: (id, claimed, { status }, now) => repository.succeeded(id, claimed.lease, status, now),
        failed: (id, claimed, failure, nextAttemptAt, now) => repository.failed(id, claimed.lease, { status: failure.status ?? null, message: failure.message }, nextAttemptAt, now),
        released: (id, reason, now) => repository.released(id, reason, now),
      },
      send: (claimed, signal) => this.send(claimed.destination, claimed.event, signal),
      keyOf: (id) => id,
      attemptsOf: (claimed) => claimed.delivery.attempts,
      attemptTimeoutMs: settings.timeoutMs,
      timeoutSetting: 'DESTINATION_TIMEOUT_SECONDS',
      retry: { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs, maxAttempts: settings.maxAttempts },
      now: deps.now,
      log: deps.log,
      random: deps.random,
      onOutcome: (claimed, outcome, seconds) => {
        const breaker = this.breaker(claimed.destination.id);
        if (outcome === 'delivered') breaker.success();
        else breaker.failure();
        metrics.eventDeliveries.inc({ type: claimed.destination.type, outcome });
        metrics.eventDeliverySeconds.observe({ type: claimed.destination.type }, seconds);
      },
    });
  }

  /**
   * One worker round (SQLite mode): new events become deliveries, and every destination with a due delivery whose
   * lane is not already running gets one. The round does not wait for the lanes.
   */
  async round(): Promise<void> {
    const now = this.deps.now().toISOString();
    await this.deps.repository.dispatch(now, DISPATCH_LIMIT);
    for (const destination of await this.deps.repository.dueDestinations(now, 1000)) this.startLane(destination);
  }

  /** The same work shared out through the job queue (PostgreSQL mode): a job is one destination's lane. */
  sharedWork(planEveryMs: number): SharedWork<{ destination: string }> {
    return {
      queue: 'hub-event-delivery',
      concurrency: 8,
      planEveryMs,
      expireInSeconds: Math.ceil((this.outbox.leaseMs * JOB_BATCH) / 1000),
      due: async () => {
        const now = this.deps.now().toISOString();
        await this.deps.repository.dispatch(now, DISPATCH_LIMIT);
        return (await this.deps.repository.dueDestinations(now, 1000)).map((destination) => ({ key: destination, data: { destination } }));
      },
      run: ({ destination }) => this.lane(destination, JOB_BATCH),
    };
  }

  async list(tenant: string, destinationId: string, status: DeliveryStatus | undefined, limit: number): Promise<DeliveryView[]> {
    await this.deps.destinations.record(tenant, destinationId);
    return this.deps.repository.list(destinationId, status, limit);
  }

  /** Sends the delivery again now (a dead letter starts a new series) and answers it as it stands after the attempt. */
  async retry(tenant: string, destinationId: string, deliveryId: string): Promise<DeliveryView> {
    await this.deps.destinations.record(tenant, destinationId);
    const reopened = await this.deps.repository.retry(destinationId, deliveryId, this.deps.now().toISOString());
    if (!reopened) throw new NotFoundError('delivery_not_found', `Destination '${destinationId}' has no delivery '${deliveryId}'.`);
    await this.outbox.attempt(deliveryId);
    return (await this.deps.repository.get(destinationId, deliveryId))!;
  }

  /** Sends a `hub.test` event now, outside the outbox: the receiver's answer is the result. */
  async test(tenant: string, destinationId: string): Promise<{ ok: boolean; status: number | null; error?: string }> {
    const destination = await this.deps.destinations.record(tenant, destinationId);
    const now = this.deps.now();
    const event: HubEvent = { id: newEventId(), type: 'hub.test', tenant_id: tenant, sequence: 0, created_at: now.toISOString(), data: { destination_id: destinationId } };
    try {
      const { status } = await this.send(destination, event, AbortSignal.any([AbortSignal.timeout(this.deps.settings.timeoutMs), this.outbox.shutdownSignal]));
      return { ok: true, status };
    } catch (error) {
      const failure = error instanceof DeliveryFailure ? error.failure : { message: (error as Error).message, status: null };
      return { ok: false, status: failure.status ?? null, error: failure.message };
    }
  }

  recoverInterrupted(): Promise<number> {
    return this.deps.repository.recoverInterrupted(this.deps.now().toISOString());
  }

  beginShutdown(graceMs: number): void {
    this.outbox.beginShutdown(graceMs);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.lanes.values()]);
    await this.outbox.drain();
  }

  private startLane(destination: string): void {
    if (this.lanes.has(destination) || this.outbox.isStopping) return;
    const lane = this.lane(destination)
      .catch((err: unknown) => this.deps.log.warn({ err, destination }, 'event delivery lane failed'))
      .finally(() => this.lanes.delete(destination));
    this.lanes.set(destination, lane);
  }

  /** Sends the destination's due deliveries oldest first, until none is due, one fails, or `maxSends` went out. */
  private async lane(destination: string, maxSends = Number.POSITIVE_INFINITY): Promise<void> {
    const { repository } = this.deps;
    const breaker = this.breaker(destination);
    for (let sent = 0; sent < maxSends && !this.outbox.isStopping; sent++) {
      const id = await repository.nextDue(destination, this.deps.now().toISOString());
      if (!id) return;
      let probe: boolean;
      try {
        probe = await breaker.admit();
      } catch {
        return; // open: the lane waits for the cool-down
      }
      try {
        await this.outbox.attempt(id);
      } finally {
        breaker.release(probe);
      }
      // A delivery waiting for its retry holds the lane (see nextDue); a refused one does not.
      const status = (await repository.get(destination, id))?.status;
      if (status !== 'delivered' && status !== 'failed') return;
    }
  }

  private async send(destination: DestinationRecord, event: HubEvent, signal: AbortSignal): Promise<{ status: number }> {
    const kind = DESTINATION_KINDS[destination.type];
    const now = this.deps.now();
    const { url, secrets } = this.deps.destinations.open(destination, now);
    const { body, headers } = kind.render(event, { secrets, now });
    const answer = await this.deps.client.post(kind.target(url), body, headers, signal);
    const verdict = kind.verdict(answer);
    if (verdict.delivered) return { status: answer.status };
    if (verdict.disable) {
      await this.deps.destinations.disable(destination, verdict.disable);
      this.deps.log.warn({ destination: destination.id, reason: verdict.disable }, 'destination disabled');
      // Not a dead letter: it waits, with the deliveries behind it, until the destination is enabled again.
      throw new DeliveryFailure({ ...verdict.failure, permanent: false });
    }
    throw new DeliveryFailure(verdict.failure);
  }

  private breaker(destination: string): CircuitBreaker {
    let breaker = this.breakers.get(destination);
    if (!breaker) {
      breaker = new CircuitBreaker({ system: { id: 'destination', name: `Destination ${destination}` }, threshold: CIRCUIT.threshold, cooldownMs: CIRCUIT.cooldownMs });
      this.breakers.set(destination, breaker);
    }
    return breaker;
  }
}
