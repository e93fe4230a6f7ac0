import type { EventType, HubEvent, NewEvent } from '../events/event.js';
import { asPromises } from './as-promises.js';
import type { Db } from './db.js';
import type { EventNotifier } from './event-notifier.js';

export interface EventsRepository {
  /** The tenant's events after `after`, oldest first. */
  list(tenant: string, after: number, limit: number, type?: EventType): Promise<HubEvent[]>;
  /** The newest event's sequence (0 before the first): a destination made now gets the events after it. */
  latestSequence(): Promise<number>;
  /** Calls `listener` after events were committed by this process. */
  onWritten(listener: () => void): void;
}

interface EventRow {
  sequence: number;
  id: string;
  tenant_id: string;
  type: EventType;
  created_at: string;
  data: string;
}

export const eventOf = (row: Omit<EventRow, 'data'> & { data: string | Record<string, unknown> }): HubEvent => ({
  id: row.id,
  type: row.type,
  tenant_id: row.tenant_id,
  sequence: row.sequence,
  created_at: row.created_at,
  data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
});

/**
 * Writes events inside the caller's transaction (the outbox's half of the change that caused them). better-sqlite3
 * commits synchronously, before the notifier's listeners run.
 */
export function createEventWriter(db: Db, notifier: EventNotifier): (event: NewEvent) => void {
  const insert = db.prepare('INSERT INTO events (id, tenant_id, type, logical, created_at, data) VALUES (@id, @tenant_id, @type, @logical, @created_at, @data)');
  return (event) => {
    insert.run({ ...event, data: JSON.stringify(event.data) });
    notifier.notify();
  };
}

export function createEventsRepository(db: Db, notifier: EventNotifier): EventsRepository {
  const COLUMNS = 'sequence, id, tenant_id, type, created_at, data';
  const all = db.prepare<[string, number, number], EventRow>(`SELECT ${COLUMNS} FROM events WHERE tenant_id = ? AND sequence > ? ORDER BY sequence LIMIT ?`);
  const ofType = db.prepare<[string, number, string, number], EventRow>(
    `SELECT ${COLUMNS} FROM events WHERE tenant_id = ? AND sequence > ? AND type = ? ORDER BY sequence LIMIT ?`,
  );
  const latest = db.prepare<[], number>('SELECT COALESCE(MAX(sequence), 0) FROM events').pluck();
  const repository = asPromises<Omit<EventsRepository, 'onWritten'>>({
    list: (tenant, after, limit, type) => (type ? ofType.all(tenant, after, type, limit) : all.all(tenant, after, limit)).map(eventOf),
    latestSequence: () => latest.get()!,
  });
  return { ...repository, onWritten: (listener) => notifier.on(listener) };
}
