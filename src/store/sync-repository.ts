import type { Db } from './db.js';

export type SyncMode = 'delta' | 'modifiedon';
export type RunKind = 'incremental' | 'full';

export interface SyncState {
  tenant_id: string;
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
  /** The D365 columns as JSON text. */
  data: string;
}

/** Where the run stands once a page is committed; written in the page's own transaction. */
export interface RunPosition {
  resume_link: string | null;
  cursor: string | null;
  run_kind: RunKind | null;
  run_id: number | null;
}

export interface PageCommit {
  tenant: string;
  logical: string;
  /** The org the page was read from: a commit for another org than the state's (reset meanwhile) is refused. */
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
  tenant: string;
  logical: string;
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
  getState(tenant: string, logical: string): SyncState | undefined;
  /** Records a poll's start and the run it is about to do (creating the state on first poll). */
  startPoll(tenant: string, logical: string, start: PollStart): void;
  finishPoll(tenant: string, logical: string, outcome: 'ok' | 'error' | 'interrupted', error: string | null, now: string): void;
  markReconciled(tenant: string, logical: string, now: string): void;
  /** One more poll whose stored resume link the server refused for good; answers the count. */
  recordLinkRefusal(tenant: string, logical: string): number;
  /**
   * Forgets cursors and runs in progress (of one table, or of every table of the tenant) so the next poll reads
   * everything from `source` and tombstones what it lacks; rows stay until then.
   */
  reset(target: { tenant: string; logical?: string }, source: string, reason: string, now: string): number;
  nextRunId(): number;
  commitPage(commit: PageCommit): Committed<{ upserted: number; deleted: number }>;
  commitKeys(commit: KeysCommit): Committed<{ deleted: number }>;
  /** Seconds since each registered table's last successful poll. */
  freshness(now: Date): Array<{ tenant_id: string; logical: string; seconds: number }>;
}

export function createSyncRepository(db: Db): SyncRepository {
  const getState = db.prepare<[string, string], SyncState>('SELECT * FROM sync_state WHERE tenant_id = ? AND logical = ?');
  const startPoll = db.prepare(`
    INSERT INTO sync_state (tenant_id, logical, mode, source, cursor, cursor_at, resume_link, run_kind, run_id, last_started_at, full_resyncs, last_resync_reason)
    VALUES (@tenant, @logical, @mode, @source, @cursor, @now, @resume_link, @run_kind, @run_id, @now, @resync, @reason)
    ON CONFLICT (tenant_id, logical) DO UPDATE SET
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
      link_failures = CASE WHEN @outcome = 'ok' THEN 0 ELSE link_failures END
    WHERE tenant_id = @tenant AND logical = @logical`);
  const recordLinkRefusal = db
    .prepare<[string, string], number>('UPDATE sync_state SET link_failures = link_failures + 1 WHERE tenant_id = ? AND logical = ? RETURNING link_failures')
    .pluck();
  const resetSql = (where: string) =>
    db.prepare(`
      UPDATE sync_state SET source = @source, cursor = NULL, cursor_at = NULL, resume_link = NULL, run_kind = 'full', run_id = NULL,
        link_failures = 0, full_resyncs = full_resyncs + 1, last_resync_reason = @reason, last_reset_reason = @reason, last_reset_at = @now
      WHERE ${where}`);
  const resetTable = resetSql('tenant_id = @tenant AND logical = @logical');
  const resetTenant = resetSql('tenant_id = @tenant');
  const sourceOf = db.prepare<[string, string], string | null>('SELECT source FROM sync_state WHERE tenant_id = ? AND logical = ?').pluck();
  const markReconciled = db.prepare<[string, string, string]>('UPDATE sync_state SET last_reconciled_at = ? WHERE tenant_id = ? AND logical = ?');
  const bump = db.prepare<[string], number>('UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value').pluck();
  const setPosition = db.prepare(`
    UPDATE sync_state SET resume_link = @resume_link, run_kind = @run_kind, run_id = @run_id,
      cursor_at = CASE WHEN cursor IS @cursor THEN cursor_at ELSE @now END, cursor = @cursor
    WHERE tenant_id = @tenant AND logical = @logical`);
  // Unchanged rows (same etag and columns) are not rewritten, so re-reads at a modifiedon boundary or in a
  // full resync are neither counted nor given a new sequence number.
  const upsertRow = db.prepare(`
    INSERT INTO rows (tenant_id, logical, id, seq, modified_on, etag, deleted, deleted_at, data, seen_run)
    VALUES (@tenant, @logical, @id, @seq, @modified_on, @etag, 0, NULL, @data, @seen_run)
    ON CONFLICT (tenant_id, logical, id) DO UPDATE SET
      seq = excluded.seq, modified_on = excluded.modified_on, etag = excluded.etag, deleted = 0, deleted_at = NULL,
      data = excluded.data, seen_run = COALESCE(excluded.seen_run, rows.seen_run)
    WHERE rows.deleted = 1 OR rows.etag IS NOT excluded.etag OR rows.data IS NOT excluded.data`);
  const markSeen = db.prepare<[number, string, string, string]>('UPDATE rows SET seen_run = ? WHERE tenant_id = ? AND logical = ? AND id = ?');
  const tombstone = db.prepare<[string, number, string, string, string]>(
    'UPDATE rows SET deleted = 1, deleted_at = ?, seq = ? WHERE tenant_id = ? AND logical = ? AND id = ? AND deleted = 0',
  );
  const tombstoneUnseen = db.prepare<[string, number, string, string, number]>(
    'UPDATE rows SET deleted = 1, deleted_at = ?, seq = ? WHERE tenant_id = ? AND logical = ? AND deleted = 0 AND (seen_run IS NULL OR seen_run <> ?)',
  );

  const lastSuccesses = db.prepare<[], { tenant_id: string; logical: string; last_success_at: string }>(`
    SELECT s.tenant_id, s.logical, s.last_success_at FROM sync_state s
    JOIN registered_tables r ON r.tenant_id = s.tenant_id AND r.logical = s.logical
    WHERE s.last_success_at IS NOT NULL`);

  const stale = (c: { tenant: string; logical: string; source: string }) => sourceOf.get(c.tenant, c.logical) !== c.source;

  const commitPage = db.transaction((c: PageCommit): Committed<{ upserted: number; deleted: number }> => {
    if (stale(c)) return { stale: true };
    // One sequence number per commit: every change in it shares it, and later commits get higher ones.
    const seq = bump.get('change_seq')!;
    let upserted = 0;
    let deleted = 0;
    for (const row of c.rows) {
      const changed = upsertRow.run({ tenant: c.tenant, logical: c.logical, seq, seen_run: c.seenRun, ...row }).changes > 0;
      if (changed) upserted++;
      else if (c.seenRun !== null) markSeen.run(c.seenRun, c.tenant, c.logical, row.id);
    }
    for (const id of c.deletedIds) deleted += tombstone.run(c.now, seq, c.tenant, c.logical, id).changes;
    if (c.tombstoneUnseenOf !== null) deleted += tombstoneUnseen.run(c.now, seq, c.tenant, c.logical, c.tombstoneUnseenOf).changes;
    setPosition.run({ tenant: c.tenant, logical: c.logical, now: c.now, ...c.position });
    return { upserted, deleted, stale: false };
  });

  const commitKeys = db.transaction((c: KeysCommit): Committed<{ deleted: number }> => {
    if (stale(c)) return { stale: true };
    for (const id of c.ids) markSeen.run(c.run, c.tenant, c.logical, id);
    if (!c.last) return { deleted: 0, stale: false };
    const seq = bump.get('change_seq')!;
    return { deleted: tombstoneUnseen.run(c.now, seq, c.tenant, c.logical, c.run).changes, stale: false };
  });

  return {
    getState: (tenant, logical) => getState.get(tenant, logical),
    startPoll: (tenant, logical, { mode, source, position, now, resyncReason }) =>
      void startPoll.run({ tenant, logical, mode, source, now, ...position, resync: resyncReason ? 1 : 0, reason: resyncReason ?? null }),
    finishPoll: (tenant, logical, outcome, error, now) => void finishPoll.run({ tenant, logical, outcome, error, now }),
    markReconciled: (tenant, logical, now) => void markReconciled.run(now, tenant, logical),
    recordLinkRefusal: (tenant, logical) => recordLinkRefusal.get(tenant, logical) ?? 0,
    reset: ({ tenant, logical }, source, reason, now) =>
      (logical === undefined ? resetTenant.run({ tenant, source, reason, now }) : resetTable.run({ tenant, logical, source, reason, now })).changes,
    nextRunId: () => bump.get('run_id')!,
    commitPage: (commit) => commitPage.immediate(commit),
    commitKeys: (commit) => commitKeys.immediate(commit),
    freshness: (now) =>
      lastSuccesses.all().map((r) => ({ tenant_id: r.tenant_id, logical: r.logical, seconds: Math.max(0, (now.getTime() - Date.parse(r.last_success_at)) / 1000) })),
  };
}
