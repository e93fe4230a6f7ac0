import type { FastifyBaseLogger } from 'fastify';
import type { ConnectorSet } from '../connectors/connections.js';
import type { ConnectorDefinition, ModeLabel, ReadRequest, SourceConnector, TableInfo, TableSync } from '../connectors/types.js';
import { ConflictError, HubError, ServiceUnavailableError, UpstreamError } from '../errors.js';
import type { HubMetrics } from '../metrics.js';
import type { SyncMode, SyncRepository, SyncState, TableRef } from '../store/sync-repository.js';
import { lockKey, type PollLockManager } from './poll-locks.js';
import { fullRun, planRun, type RunPlan } from './run-plan.js';
import { laterOf } from './watermark.js';

export interface TablePollResult {
  table: string;
  /** The sync mode as the connector names it (Dataverse says `modifiedon` for cursor mode). */
  mode: ModeLabel | null;
  upserted: number;
  deleted: number;
  pages: number;
  duration_ms: number;
  outcome: 'ok' | 'error' | 'interrupted';
  error?: { code: string; message: string };
}

export interface PollServiceDeps {
  sync: SyncRepository;
  connectors: ConnectorSet;
  locks: PollLockManager;
  reconcileIntervalMs: number;
  lookbackMs: number;
  metrics: HubMetrics;
  now: () => Date;
  log: FastifyBaseLogger;
}

/** Dataverse's answer when a delta token is older than the org's change-tracking retention. */
const EXPIRED_DELTA_TOKEN = '0x80044352';
/** Polls in a row whose stored link the server refused for good before the table is read again in full. */
export const MAX_LINK_REFUSALS = 3;

class Interrupted extends Error {}

const connectionChanged = () =>
  new ConflictError(
    'connection_changed',
    "The tenant's connection now names another source; nothing more of this poll was committed, and the next poll reads the new source in full.",
  );

/** A sync mode in the words of the connector's answers. */
export const modeLabel = (definition: ConnectorDefinition, mode: SyncMode): ModeLabel => definition.modeLabels?.[mode] ?? mode;

interface Counters {
  upserted: number;
  deleted: number;
  pages: number;
}

/** Mirrors registered tables into the store, one committed page at a time. */
export class PollService {
  private readonly shutdown = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: PollServiceDeps) {}

  /**
   * Polls the given tables of a tenant in parallel (the connector caps concurrency). With `skipBusy`, tables
   * being polled elsewhere are left out; otherwise any of them makes the whole call a 409.
   */
  async poll(tenant: string, connectorId: string, tables: string[], options: { forceFull?: boolean; skipBusy?: boolean } = {}): Promise<TablePollResult[]> {
    if (this.stopping) throw new ServiceUnavailableError('shutting_down', 'The hub is shutting down; poll again once it is back.');
    const connections = this.deps.connectors.get(connectorId);
    const connector = await connections.connectorFor(tenant);
    const refs = tables.map((logical): TableRef => ({ tenant, connector: connectorId, logical }));
    const lock = options.skipBusy ? await this.deps.locks.acquireFree(refs.map(lockKey)) : await this.deps.locks.tryAcquireAll(refs.map(lockKey));
    if ('busy' in lock) {
      const busy = refs.filter((ref) => lock.busy.includes(lockKey(ref))).map((ref) => ref.logical);
      throw new ConflictError('poll_in_progress', `A poll of ${busy.join(', ')} for tenant '${tenant}' is already running.`, { tables: busy });
    }
    const wanted = refs.filter((ref) => lock.acquired.includes(lockKey(ref)));
    const work = Promise.all(
      wanted.map((ref) => this.pollTable(ref, connections.definition, connector, options.forceFull ?? false).then((r) => this.record(ref, r))),
    );
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
      await lock.release();
    }
  }

  /**
   * Shutdown, first step: every running poll commits the page in hand and stops (a request in flight is
   * aborted; nothing of it was committed). Called before the server waits for in-flight requests.
   */
  interrupt(): void {
    this.shutdown.abort();
  }

  /** Interrupts running polls and resolves when all have ended. */
  async stop(): Promise<void> {
    this.interrupt();
    await Promise.allSettled([...this.running]);
  }

  get stopping(): boolean {
    return this.shutdown.signal.aborted;
  }

  private record(ref: TableRef, result: TablePollResult): TablePollResult {
    const labels = { tenant: ref.tenant, connector: ref.connector, table: ref.logical };
    this.deps.metrics.rowsUpserted.inc(labels, result.upserted);
    this.deps.metrics.rowsDeleted.inc(labels, result.deleted);
    this.deps.metrics.pollDuration.observe({ ...labels, outcome: result.outcome }, result.duration_ms / 1000);
    return result;
  }

  private async pollTable(ref: TableRef, definition: ConnectorDefinition, connector: SourceConnector, forceFull: boolean): Promise<TablePollResult> {
    const started = Date.now();
    const counters: Counters = { upserted: 0, deleted: 0, pages: 0 };
    const { sync } = this.deps;
    const log = this.deps.log.child({ tenant: ref.tenant, connector: ref.connector, table: ref.logical });
    let mode: SyncMode | null = null;
    const result = (outcome: TablePollResult['outcome'], error?: TablePollResult['error']): TablePollResult => ({
      table: ref.logical,
      mode: mode && modeLabel(definition, mode),
      ...counters,
      duration_ms: Date.now() - started,
      outcome,
      ...(error ? { error } : {}),
    });

    let plan: RunPlan | null = null;
    try {
      const table = await connector.getTable(ref.logical);
      const how = connector.syncOf(table);
      const currentMode = how.mode;
      mode = currentMode;
      let state = await sync.getState(ref);
      // The connection (or the default) now names another source than the one this table was read from.
      if (state?.source && state.source !== connector.source) {
        log.warn({ from: state.source, to: connector.source }, 'connection names another source; reading the table again in full');
        await sync.reset(ref, connector.source, `the connection now reads ${connector.source} instead of ${state.source}`, this.nowIso());
        state = await sync.getState(ref);
      }
      // Taken whether or not the plan needs one (run ids need only be unique), so planning stays a pure function.
      const runId = await sync.nextRunId();
      plan = planRun(state, currentMode, forceFull, () => runId, { lookbackMs: this.deps.lookbackMs, maxLinkRefusals: MAX_LINK_REFUSALS });
      await this.start(ref, currentMode, plan, connector);
      try {
        await this.readRun(ref, table, currentMode, plan, connector, counters);
      } catch (error) {
        if (!(currentMode === 'delta' && plan.kind === 'incremental' && isExpiredDeltaToken(error))) throw error;
        log.warn('delta token expired; running a full resync');
        plan = fullRun(await sync.nextRunId(), `delta token expired (${EXPIRED_DELTA_TOKEN})`);
        await this.start(ref, currentMode, plan, connector);
        await this.readRun(ref, table, currentMode, plan, connector, counters);
      }
      if (currentMode === 'cursor') {
        if (plan.kind === 'full') await sync.markReconciled(ref, this.nowIso());
        else if (this.reconcileDue(how, await sync.getState(ref))) await this.reconcileKeys(ref, table, connector, counters);
      }
      await sync.finishPoll(ref, { outcome: 'ok', error: null, now: this.nowIso() });
      return result('ok');
    } catch (error) {
      const outcome = error instanceof Interrupted || this.stopping ? 'interrupted' : 'error';
      const described = describeError(error, outcome);
      if (outcome === 'error') log.warn({ err: error }, 'poll failed');
      // Also when the poll failed before it knew the table (metadata unreachable): a table polled before
      // has a state, so the failure is recorded and counted in its streak.
      await sync.finishPoll(ref, { outcome, error: described, now: this.nowIso() });
      // Counted only for runs that started from a link the hub stored: after a few, the table is read afresh.
      if (plan?.link && isPermanentRefusal(error)) await sync.recordLinkRefusal(ref);
      return result(outcome, described);
    }
  }

  private start(ref: TableRef, mode: SyncMode, plan: RunPlan, connector: SourceConnector): Promise<void> {
    return this.deps.sync.startPoll(ref, { mode, source: connector.source, position: plan.position, now: this.nowIso(), resyncReason: plan.resyncReason });
  }

  private async readRun(ref: TableRef, table: TableInfo, mode: SyncMode, plan: RunPlan, connector: SourceConnector, counters: Counters): Promise<void> {
    const request: ReadRequest =
      mode === 'cursor' ? { kind: 'cursor', table, since: plan.since, link: plan.link } : { kind: mode, table, link: plan.link };
    const runId = plan.kind === 'full' ? plan.position.run_id : null;
    let cursor = plan.position.cursor;
    for await (const page of connector.read(request, this.shutdown.signal)) {
      counters.pages++;
      const { rows, deletedIds } = page;
      if (mode === 'delta') cursor = page.deltaLink ?? cursor;
      else if (mode === 'cursor') cursor = rows.reduce((latest, row) => laterOf(latest, row.modified_on), cursor);
      const finished = page.nextLink === null;
      const committed = await this.deps.sync.commitPage({
        table: ref,
        source: connector.source,
        rows,
        deletedIds,
        seenRun: runId,
        tombstoneUnseenOf: finished ? runId : null,
        position: finished
          ? { resume_link: null, cursor, run_kind: null, run_id: null }
          : { resume_link: page.nextLink, cursor, run_kind: plan.kind, run_id: runId },
        now: this.nowIso(),
      });
      if (committed.stale) throw connectionChanged();
      counters.upserted += committed.upserted;
      counters.deleted += committed.deleted;
      if (!finished && this.stopping) throw new Interrupted('the hub is shutting down; the poll resumes from its last committed page');
    }
  }

  /** Watermark tables never report deletions: compare the stored keys with the keys upstream. */
  private async reconcileKeys(ref: TableRef, table: TableInfo, connector: SourceConnector, counters: Counters): Promise<void> {
    const run = await this.deps.sync.nextRunId();
    for await (const page of connector.readKeys(table, this.shutdown.signal)) {
      counters.pages++;
      const last = page.nextLink === null;
      const committed = await this.deps.sync.commitKeys({ table: ref, source: connector.source, ids: page.ids, run, last, now: this.nowIso() });
      if (committed.stale) throw connectionChanged();
      counters.deleted += committed.deleted;
      if (!last && this.stopping) throw new Interrupted('the hub is shutting down; key reconciliation restarts at the next poll');
    }
    await this.deps.sync.markReconciled(ref, this.nowIso());
  }

  private reconcileDue(how: TableSync, state: SyncState | undefined): boolean {
    if (how.reconcile === 'every_poll') return true;
    const interval = this.deps.reconcileIntervalMs;
    if (interval <= 0 || !state) return false;
    return !state.last_reconciled_at || this.deps.now().getTime() - Date.parse(state.last_reconciled_at) >= interval;
  }

  private nowIso(): string {
    return this.deps.now().toISOString();
  }
}

function isExpiredDeltaToken(error: unknown): boolean {
  return error instanceof UpstreamError && error.upstreamCode === EXPIRED_DELTA_TOKEN;
}

/** A 4xx that retrying the same link cannot cure (auth, privilege and throttling answers aside). */
function isPermanentRefusal(error: unknown): boolean {
  const status = error instanceof UpstreamError ? error.upstreamStatus : null;
  return status !== null && status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status) && !isExpiredDeltaToken(error);
}

function describeError(error: unknown, outcome: 'error' | 'interrupted'): { code: string; message: string } {
  if (outcome === 'interrupted') return { code: 'poll_interrupted', message: 'The hub shut down during the poll; it resumes from its last committed page.' };
  if (error instanceof HubError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: 'Unexpected error while polling; see the hub log.' };
}
