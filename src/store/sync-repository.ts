import { pollEndEvents, type PollEnd, type TableEventState } from '../events/poll-events.js';
import { asPromises } from './as-promises.js';
import type { Db } from './db.js';
import { EventNotifier } from './event-notifier.js';
import { createEventWriter } from './events-repository.js';
import { createTableKeys, type TableRef } from './table-keys.js';

export type { TableRef } from './table-keys.js';

/** delta: change-tracking links; cursor: a last-modified watermark column; snapshot: full read and compare. */
export type SyncMode = 'delta' | 'cursor' | 'snapshot';
export type RunKind = 'incremental' | 'full';

export interface SyncState extends TableEventState {
  tenant_id: string;
  connector: string;
  logical: string;
  mode: SyncMode;
  cursor: string | null;
  cursor_at: string | null;
  resume_link: string | null;
  run_kind: RunKind | null;
  run_id: number | null;
  last_started_at: string | null;
  last_finished_at: string | null;
  last_outcome: string | null;
  last_error: string | null;
  last_success_at: string | null;
  last_reconciled_at: string | null;
  full_resyncs: number;
  last_resync_reason: string | null;
  /** The org the cursor and rows came from (null before the hub recorded it). */
  source: string | null;
  link_failures: number;
  last_reset_reason: string | null;
  last_reset_at: string | null;
}

export interface StoredRowInput {
  id: string;
  modified_on: string | null;
  etag: string | null;
  /**
   * The source's columns as JSON text, or as its UTF-8 bytes (a view into the page the source sent: stored as
   * text without ever becoming a JS string).
   */
  data: string | Buffer;
}

/** Where the run stands once a page is committed; written in the page's own transaction. */
export interface RunPosition {
  resume_link: string | null;
  cursor: string | null;
  run_kind: RunKind | null;
  run_id: number | null;
}

export interface PageCommit {
  table: TableRef;
  /** The account the page was read from: a commit for another org than the state's (reset meanwhile) is refused. */
  source: string;
  rows: StoredRowInput[];
  deletedIds: string[];
  /** Full reads stamp every row they see with their run id. */
  seenRun: number | null;
  /** On the last page of a complete full read: tombstone rows this run did not see. */
  tombstoneUnseenOf: number | null;
  position: RunPosition;
  now: string;
}

export interface KeysCommit {
  table: TableRef;
  source: string;
  ids: string[];
  run: number;
  last: boolean;
  now: string;
}

export interface PollStart {
  mode: SyncMode;
  source: string;
  position: RunPosition;
  now: string;
  resyncReason?: string;
}

/** A commit refused because the table was reset for another org while the poll ran. */
export type Committed<T> = (T & { stale: false }) | { stale: true };

export interface SyncRepository {
  getState(table: TableRef): Promise<SyncState | undefined>;
  /** Records a poll's start and the run it is about to do (creating the state on first poll). */
  startPoll(table: TableRef, start: PollStart): Promise<void>;
  /** Records a poll's end and, in the same transaction, the events it makes (rows.changed, poll.failed / recovered). */
  finishPoll(table: TableRef, end: PollEnd): Promise<void>;
  markReconciled(table: TableRef, now: string): Promise<void>;
  /** One more poll whose stored resume link the server refused for good; answers the count. */
  recordLinkRefusal(table: TableRef): Promise<number>;
  /**
   * Forgets cursors and runs in progress (of one table, or of every table of the tenant's connector) so the next
   * poll reads everything from `source` and tombstones what it lacks; rows stay until then.
   */
  reset(target: { tenant: string; connector: string; logical?: string }, source: string, reason: string, now: string): Promise<number>;
  nextRunId(): Promise<number>;
  commitPage(commit: PageCommit): Promise<Committed<{ upserted: number; deleted: number }>>;
  commitKeys(commit: KeysCommit): Promise<Committed<{ deleted: number }>>;
  /** Seconds since each registered table's last successful poll. */
  freshness(now: Date): Promise<Array<{ tenant_id: string; connector: string; logical: string; seconds: number }>>;
}

/** Exactly the named parameters the statements bind (better-sqlite3 refuses unknown ones). */
const ref = ({ tenant, connector, logical }: TableRef): TableRef => ({ tenant, connector, logical });

export function createSyncRepository(db: Db, notifier = new EventNotifier()): SyncRepository {
  const keys = createTableKeys(db);
  const WHERE_TABLE = 'tenant_id = @tenant AND connector = @connector AND logical = @logical';
  const getState = db.prepare<TableRef, SyncState>(`SELECT * FROM sync_state WHERE ${WHERE_TABLE}`);
  const startPoll = db.prepare(`
    INSERT INTO sync_state (tenant_id, connector, logical, mode, source, cursor, cursor_at, resume_link, run_kind, run_id, last_started_at, full_resyncs, last_resync_reason)
    VALUES (@tenant, @connector, @logical, @mode, @source, @cursor, @now, @resume_link, @run_kind, @run_id, @now, @resync, @reason)
    ON CONFLICT (tenant_id, connector, logical) DO UPDATE SET
      mode = excluded.mode, source = excluded.source,
      cursor = excluded.cursor,
      cursor_at = CASE WHEN sync_state.cursor IS excluded.cursor THEN sync_state.cursor_at ELSE excluded.cursor_at END,
      resume_link = excluded.resume_link, run_kind = excluded.run_kind, run_id = excluded.run_id,
      last_started_at = excluded.last_started_at,
      full_resyncs = sync_state.full_resyncs + excluded.full_resyncs,
      last_resync_reason = COALESCE(excluded.last_resync_reason, sync_state.last_resync_reason)`);
  const finishPoll = db.prepare(`
    UPDATE sync_state SET last_finished_at = @now, last_outcome = @outcome, last_error = @error,
      last_success_at = CASE WHEN @outcome = 'ok' THEN @now ELSE last_success_at END,
      link_failures = CASE WHEN @outcome = 'ok' THEN 0 ELSE link_failures END,
      events_seq = @events_seq, pending_seq = NULL, pending_upserted = 0, pending_deleted = 0,
      failure_streak = @failure_streak, failing_since = @failing_since
    WHERE ${WHERE_TABLE}`);
  const notePending = db.prepare(`
    UPDATE sync_state SET pending_seq = @seq, pending_upserted = pending_upserted + @upserted, pending_deleted = pending_deleted + @deleted
    WHERE ${WHERE_TABLE}`);
  const writeEvent = createEventWriter(db, notifier);
  const finish = db.transaction((table: TableRef, end: PollEnd) => {
    const state = getState.get(table);
    if (!state) return;
    const { events, next } = pollEndEvents(table, state, end);
    finishPoll.run({ ...table, outcome: end.outcome, error: end.error?.message ?? null, now: end.now, ...next });
    for (const event of events) writeEvent(event);
  });
  const recordLinkRefusal = db
    .prepare<TableRef, number>(`UPDATE sync_state SET link_failures = link_failures + 1 WHERE ${WHERE_TABLE} RETURNING link_failures`)
    .pluck();
  const resetSql = (where: string) =>
    db.prepare(`
      UPDATE sync_state SET source = @source, cursor = NULL, cursor_at = NULL, resume_link = NULL, run_kind = 'full', run_id = NULL,
        link_failures = 0, full_resyncs = full_resyncs + 1, last_resync_reason = @reason, last_reset_reason = @reason, last_reset_at = @now
      WHERE ${where}`);
  const resetTable = resetSql(WHERE_TABLE);
  const resetTenant = resetSql('tenant_id = @tenant AND connector = @connector');
  const sourceOf = db.prepare<TableRef, string | null>(`SELECT source FROM sync_state WHERE ${WHERE_TABLE}`).pluck();
  const markReconciled = db.prepare(`UPDATE sync_state SET last_reconciled_at = @now WHERE ${WHERE_TABLE}`);
  const bump = db.prepare<[string], number>('UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value').pluck();
  const setPosition = db.prepare(`
    UPDATE sync_state SET resume_link = @resume_link, run_kind = @run_kind, run_id = @run_id,
      cursor_at = CASE WHEN cursor IS @cursor THEN cursor_at ELSE @now END, cursor = @cursor
    WHERE ${WHERE_TABLE}`);
  // Unchanged rows (same etag and columns) are not rewritten, so re-reads at a modifiedon boundary or in a
  // full resync are neither counted nor given a new sequence number.
  // Positional parameters: bound per row of every page, and measurably cheaper than named ones from a new object.
  // `CAST(? AS TEXT)`: bytes bound as a blob are taken as the UTF-8 text they are, with no conversion.
  const upsertRow = db.prepare<[number, string, number, string | null, string | null, string | Buffer, number | null]>(`
    INSERT INTO rows (table_key, id, seq, modified_on, etag, deleted, deleted_at, data, seen_run)
    VALUES (?, ?, ?, ?, ?, 0, NULL, CAST(? AS TEXT), ?)
    ON CONFLICT (table_key, id) DO UPDATE SET
      seq = excluded.seq, modified_on = excluded.modified_on, etag = excluded.etag, deleted = 0, deleted_at = NULL,
      data = excluded.data, seen_run = COALESCE(excluded.seen_run, rows.seen_run)
    WHERE rows.deleted = 1 OR rows.etag IS NOT excluded.etag OR rows.data IS NOT excluded.data`);
  const markSeen = db.prepare<[number, number, string]>('UPDATE rows SET seen_run = ? WHERE table_key = ? AND id = ?');
  const tombstone = db.prepare<[string, number, number, string]>('UPDATE rows SET deleted = 1, deleted_at = ?, seq = ? WHERE table_key = ? AND id = ? AND deleted = 0');
  const tombstoneUnseen = db.prepare<[string, number, number, number]>(
    'UPDATE rows SET deleted = 1, deleted_at = ?, seq = ? WHERE table_key = ? AND deleted = 0 AND (seen_run IS NULL OR seen_run <> ?)',
  );

  const lastSuccesses = db.prepare<[], { tenant_id: string; connector: string; logical: string; last_success_at: string }>(`
    SELECT s.tenant_id, s.connector, s.logical, s.last_success_at FROM sync_state s
    JOIN registered_tables r ON r.tenant_id = s.tenant_id AND r.connector = s.connector AND r.logical = s.logical
    WHERE s.last_success_at IS NOT NULL`);

  const stale = (c: { table: TableRef; source: string }) => sourceOf.get(c.table) !== c.source;

  const commitPage = db.transaction((c: PageCommit, tableKey: number): Committed<{ upserted: number; deleted: number }> => {
    if (stale(c)) return { stale: true };
    // One sequence number per commit: every change in it shares it, and later commits get higher ones.
    const seq = bump.get('change_seq')!;
    let upserted = 0;
    let deleted = 0;
    for (const row of c.rows) {
      const changed = upsertRow.run(tableKey, row.id, seq, row.modified_on, row.etag, row.data, c.seenRun).changes > 0;
      if (changed) upserted++;
      else if (c.seenRun !== null) markSeen.run(c.seenRun, tableKey, row.id);
    }
    for (const id of c.deletedIds) deleted += tombstone.run(c.now, seq, tableKey, id).changes;
    if (c.tombstoneUnseenOf !== null) deleted += tombstoneUnseen.run(c.now, seq, tableKey, c.tombstoneUnseenOf).changes;
    setPosition.run({ ...c.table, now: c.now, ...c.position });
    if (upserted + deleted > 0) notePending.run({ ...c.table, seq, upserted, deleted });
    return { upserted, deleted, stale: false };
  });

  const commitKeys = db.transaction((c: KeysCommit, tableKey: number): Committed<{ deleted: number }> => {
    if (stale(c)) return { stale: true };
    for (const id of c.ids) markSeen.run(c.run, tableKey, id);
    if (!c.last) return { deleted: 0, stale: false };
    const seq = bump.get('change_seq')!;
    const deleted = tombstoneUnseen.run(c.now, seq, tableKey, c.run).changes;
    if (deleted > 0) notePending.run({ ...c.table, seq, upserted: 0, deleted });
    return { deleted, stale: false };
  });

  return asPromises<SyncRepository>({
    getState: (table) => getState.get(ref(table)),
    startPoll: (table, { mode, source, position, now, resyncReason }) =>
      void startPoll.run({ ...ref(table), mode, source, now, ...position, resync: resyncReason ? 1 : 0, reason: resyncReason ?? null }),
    finishPoll: (table, end) => finish.immediate(ref(table), end),
    markReconciled: (table, now) => void markReconciled.run({ ...ref(table), now }),
    recordLinkRefusal: (table) => recordLinkRefusal.get(ref(table)) ?? 0,
    reset: ({ tenant, connector, logical }, source, reason, now) =>
      (logical === undefined ? resetTenant.run({ tenant, connector, source, reason, now }) : resetTable.run({ tenant, connector, logical, source, reason, now })).changes,
    nextRunId: () => bump.get('run_id')!,
    // The table's key is made in a statement of its own, committed before the page's transaction: a page that rolls
    // back must not take back a key the cache already holds (SQLite would give the number to the next table).
    commitPage: (commit) => commitPage.immediate(commit, keys.ensure(commit.table)),
    commitKeys: (commit) => commitKeys.immediate(commit, keys.ensure(commit.table)),
    freshness: (now) =>
      lastSuccesses.all().map((r) => ({ tenant_id: r.tenant_id, connector: r.connector, logical: r.logical, seconds: Math.max(0, (now.getTime() - Date.parse(r.last_success_at)) / 1000) })),
  });
}
