import type { TableRef } from '../store/table-keys.js';
import { newEvent, type NewEvent } from './event.js';

/** What the sync state keeps for a table's events. */
export interface TableEventState {
  events_seq: number;
  pending_seq: number | null;
  pending_upserted: number;
  pending_deleted: number;
  failure_streak: number;
  failing_since: string | null;
}

export interface PollEnd {
  outcome: 'ok' | 'error' | 'interrupted';
  error: { code: string; message: string } | null;
  now: string;
}

/** 1, 10, 100, 1 000 … consecutive failures: a failing table is told about at these counts, never at every poll. */
function isPowerOfTen(n: number): boolean {
  while (n >= 10 && n % 10 === 0) n /= 10;
  return n === 1;
}

/**
 * The events a poll's end makes, and the table's event state after them. Changes committed since the last
 * rows.changed (by this poll, or by one a crash cut short) become one event; the failure streak starts, grows or
 * ends. Both stores call this inside the transaction that records the poll's end.
 */
export function pollEndEvents(table: TableRef, state: TableEventState, end: PollEnd): { events: NewEvent[]; next: Omit<TableEventState, 'pending_seq' | 'pending_upserted' | 'pending_deleted'> } {
  const events: NewEvent[] = [];
  const about = { connector: table.connector, table: table.logical };
  let { events_seq, failure_streak, failing_since } = state;
  if (state.pending_seq !== null && state.pending_seq > state.events_seq) {
    events.push(
      newEvent('rows.changed', table.tenant, table.logical, { ...about, upserted: state.pending_upserted, deleted: state.pending_deleted, from_seq: state.events_seq, to_seq: state.pending_seq }, end.now),
    );
    events_seq = state.pending_seq;
  }
  if (end.outcome === 'error') {
    failure_streak += 1;
    failing_since ??= end.now;
    if (isPowerOfTen(failure_streak)) {
      events.push(newEvent('poll.failed', table.tenant, table.logical, { ...about, error: end.error ?? { code: 'internal_error', message: 'poll failed' }, consecutive_failures: failure_streak }, end.now));
    }
  } else if (end.outcome === 'ok' && failure_streak > 0) {
    const seconds = failing_since ? Math.max(0, Math.round((Date.parse(end.now) - Date.parse(failing_since)) / 1000)) : 0;
    events.push(newEvent('poll.recovered', table.tenant, table.logical, { ...about, failed_for_seconds: seconds }, end.now));
    failure_streak = 0;
    failing_since = null;
  }
  return { events, next: { events_seq, failure_streak, failing_since } };
}
