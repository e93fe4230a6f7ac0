import { wants } from '../events/filters.js';
import type { EventType, HubEvent } from '../events/event.js';
import { asPromises } from './as-promises.js';
import type { Db } from './db.js';
import { destinationOf, type DestinationRecord, type DestinationRow, DESTINATION_COLUMNS } from './destinations-repository.js';
import { eventOf } from './events-repository.js';

export type DeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'pending_retry' | 'failed';

/** A delivery as the routes answer it (the contract's shape). */
export interface DeliveryView {
  id: string;
  event_id: string;
  event_type: EventType;
  status: DeliveryStatus;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  delivery: DeliveryView & { destination_id: string };
  /** Until when this claim holds; it also names the claim. */
  lease: string;
  event: HubEvent;
  destination: DestinationRecord;
}

export interface EventDeliveriesRepository {
  /**
   * Makes the deliveries of events no destination has had yet: per destination (a disabled one's wait until it is enabled), one for each event of its
   * tenant after its `dispatched_seq` that it wants, then moves its `dispatched_seq` on. Answers how many it made.
   */
  dispatch(now: string, limit: number): Promise<number>;
  /**
   * Enabled destinations whose head (oldest undelivered delivery, see nextDue) is due: a new one, a retry whose
   * time came, or one whose claim ran out. A destination waiting out its head's backoff is not listed.
   */
  dueDestinations(now: string, limit: number): Promise<string[]>;
  /**
   * The destination's oldest delivery not yet delivered or dead, when it is due. One waiting for its backoff or a
   * Retry-After, or in flight, holds the lane: later events wait behind it (order per destination).
   */
  nextDue(destinationId: string, now: string): Promise<string | undefined>;
  /** Only a delivery of an enabled destination is claimed. */
  claim(id: string, now: string, leaseUntil: string): Promise<ClaimedDelivery | null>;
  /** Outcomes are recorded only under the claim that made them (`lease`): a claim taken over meanwhile wins. */
  succeeded(id: string, lease: string, status: number, now: string): Promise<void>;
  failed(id: string, lease: string, failure: { status: number | null; message: string }, nextAttemptAt: string | null, now: string): Promise<void>;
  released(id: string, reason: string, now: string): Promise<void>;
  /** Due again at once; a dead letter starts a new series of attempts. */
  retry(destinationId: string, id: string, now: string): Promise<DeliveryView | undefined>;
  list(destinationId: string, status: DeliveryStatus | undefined, limit: number): Promise<DeliveryView[]>;
  get(destinationId: string, id: string): Promise<DeliveryView | undefined>;
  /** Deliveries a previous process left in flight become due again. */
  recoverInterrupted(now: string): Promise<number>;
  /** Per destination: deliveries not yet delivered or dead, and the oldest one's creation. */
  depth(): Promise<Array<{ destination_id: string; count: number; oldest_created_at: string }>>;
}

export const DELIVERY_VIEW = `d.id, e.id AS event_id, e.type AS event_type, d.status, d.attempts, d.last_status, d.last_error, d.next_attempt_at, d.delivered_at`;
/** Due: new or a retry whose time came, or claimed by a process whose lease ran out. */
export const DUE = `((d.status IN ('pending', 'pending_retry') AND d.next_attempt_at <= @now) OR (d.status = 'delivering' AND d.lease_until <= @now))`;

/** A destination's head (`t.id`): its oldest delivery not yet delivered or dead, one lookup per destination. */
export const HEAD = `SELECT h.id FROM event_deliveries h
  WHERE h.destination_id = t.id AND h.status IN ('pending', 'pending_retry', 'delivering') ORDER BY h.event_sequence LIMIT 1`;

export const newDeliveryId = (destinationId: string, sequence: number): string => `dlv_${destinationId.slice(4)}_${sequence}`;

export function createEventDeliveriesRepository(db: Db): EventDeliveriesRepository {
  // Disabled destinations get their deliveries too (they wait, visible, until it is enabled again).
  const destinations = db.prepare<[], DestinationRow & { dispatched_seq: number }>(`SELECT ${DESTINATION_COLUMNS}, dispatched_seq FROM destinations`);
  const eventsAfter = db.prepare<[string, number, number], { sequence: number; type: string; logical: string | null }>(
    'SELECT sequence, type, logical FROM events WHERE tenant_id = ? AND sequence > ? ORDER BY sequence LIMIT ?',
  );
  const insert = db.prepare(`
    INSERT INTO event_deliveries (id, destination_id, event_sequence, status, next_attempt_at, created_at, updated_at)
    VALUES (@id, @destination_id, @sequence, 'pending', @now, @now, @now) ON CONFLICT DO NOTHING`);
  const advance = db.prepare<[number, string]>('UPDATE destinations SET dispatched_seq = ? WHERE id = ?');
  const dispatchOne = db.transaction((d: DestinationRow & { dispatched_seq: number }, now: string, limit: number) => {
    const destination = destinationOf(d);
    const events = eventsAfter.all(d.tenant_id, d.dispatched_seq, limit);
    let made = 0;
    for (const e of events) if (wants(destination, e)) made += insert.run({ id: newDeliveryId(d.id, e.sequence), destination_id: d.id, sequence: e.sequence, now }).changes;
    if (events.length > 0) advance.run(events.at(-1)!.sequence, d.id);
    return made;
  });
  const dueDestinations = db.prepare<{ now: string; limit: number }, string>(`
    SELECT t.id FROM destinations t JOIN event_deliveries d ON d.id = (${HEAD})
    WHERE t.enabled = 1 AND ${DUE} LIMIT @limit`).pluck();
  const nextDue = db.prepare<{ destination: string; now: string }, string>(`
    SELECT d.id FROM destinations t JOIN event_deliveries d ON d.id = (${HEAD}) WHERE t.id = @destination AND ${DUE}`).pluck();
  const claim = db.prepare<{ id: string; now: string; lease: string }, { destination_id: string; event_sequence: number }>(`
    UPDATE event_deliveries AS d SET status = 'delivering', attempts = attempts + 1, lease_until = @lease, updated_at = @now
    WHERE d.id = @id AND ${DUE} AND (SELECT enabled FROM destinations t WHERE t.id = d.destination_id) = 1
    RETURNING destination_id, event_sequence`);
  const view = db.prepare<[string, string], DeliveryView>(
    `SELECT ${DELIVERY_VIEW} FROM event_deliveries d JOIN events e ON e.sequence = d.event_sequence WHERE d.destination_id = ? AND d.id = ?`,
  );
  const eventRow = db.prepare<[number], Parameters<typeof eventOf>[0] & { data: string }>('SELECT sequence, id, tenant_id, type, created_at, data FROM events WHERE sequence = ?');
  const destinationRow = db.prepare<[string], DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM destinations WHERE id = ?`);
  const succeeded = db.prepare<{ id: string; lease: string; status: number; now: string }>(
    `UPDATE event_deliveries SET status = 'delivered', last_status = @status, last_error = NULL, delivered_at = @now, next_attempt_at = NULL, lease_until = NULL, updated_at = @now
     WHERE id = @id AND status = 'delivering' AND lease_until = @lease`,
  );
  const failed = db.prepare<{ id: string; lease: string; status: string; last_status: number | null; message: string; next: string | null; now: string }>(
    `UPDATE event_deliveries SET status = @status, last_status = @last_status, last_error = @message, next_attempt_at = @next, lease_until = NULL, updated_at = @now
     WHERE id = @id AND status = 'delivering' AND lease_until = @lease`,
  );
  const released = db.prepare<[string, string, string, string]>(
    `UPDATE event_deliveries SET status = 'pending_retry', attempts = MAX(attempts - 1, 0), last_error = ?, next_attempt_at = ?, lease_until = NULL, updated_at = ?
     WHERE id = ? AND status = 'delivering'`,
  );
  const retry = db.prepare<{ now: string; destination: string; id: string }>(`
    UPDATE event_deliveries SET status = 'pending_retry', attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END, next_attempt_at = @now, updated_at = @now
    WHERE destination_id = @destination AND id = @id AND status IN ('pending', 'pending_retry', 'failed')`);
  const listAll = db.prepare<[string, number], DeliveryView>(
    `SELECT ${DELIVERY_VIEW} FROM event_deliveries d JOIN events e ON e.sequence = d.event_sequence WHERE d.destination_id = ? ORDER BY d.event_sequence DESC LIMIT ?`,
  );
  const listByStatus = db.prepare<[string, string, number], DeliveryView>(
    `SELECT ${DELIVERY_VIEW} FROM event_deliveries d JOIN events e ON e.sequence = d.event_sequence WHERE d.destination_id = ? AND d.status = ? ORDER BY d.event_sequence DESC LIMIT ?`,
  );
  const recover = db.prepare<{ now: string }>(`UPDATE event_deliveries SET status = 'pending_retry', next_attempt_at = @now, lease_until = NULL, updated_at = @now WHERE status = 'delivering'`);
  const depth = db.prepare<[], { destination_id: string; count: number; oldest_created_at: string }>(`
    SELECT destination_id, COUNT(*) AS count, MIN(created_at) AS oldest_created_at FROM event_deliveries
    WHERE status IN ('pending', 'delivering', 'pending_retry') GROUP BY destination_id`);

  const claimOne = db.transaction((id: string, now: string, lease: string): ClaimedDelivery | null => {
    const claimed = claim.get({ id, now, lease });
    if (!claimed) return null;
    return {
      delivery: { ...view.get(claimed.destination_id, id)!, destination_id: claimed.destination_id },
      lease,
      event: eventOf(eventRow.get(claimed.event_sequence)!),
      destination: destinationOf(destinationRow.get(claimed.destination_id)!),
    };
  });

  return asPromises<EventDeliveriesRepository>({
    dispatch: (now, limit) => destinations.all().reduce((made, d) => made + dispatchOne.immediate(d, now, limit), 0),
    dueDestinations: (now, limit) => dueDestinations.all({ now, limit }),
    nextDue: (destination, now) => nextDue.get({ destination, now }),
    claim: (id, now, lease) => claimOne.immediate(id, now, lease),
    succeeded: (id, lease, status, now) => void succeeded.run({ id, lease, status, now }),
    failed: (id, lease, failure, nextAttemptAt, now) =>
      void failed.run({ id, lease, status: nextAttemptAt === null ? 'failed' : 'pending_retry', last_status: failure.status, message: failure.message, next: nextAttemptAt, now }),
    released: (id, reason, now) => void released.run(reason, now, now, id),
    retry: (destination, id, now) => {
      retry.run({ now, destination, id });
      return view.get(destination, id);
    },
    list: (destination, status, limit) => (status ? listByStatus.all(destination, status, limit) : listAll.all(destination, limit)),
    get: (destination, id) => view.get(destination, id),
    recoverInterrupted: (now) => recover.run({ now }).changes,
    depth: () => depth.all(),
  });
}
