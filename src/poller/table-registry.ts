import type { ConnectorSet } from '../connectors/connections.js';
import type { ModeLabel } from '../connectors/types.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { RegistrationsRepository } from '../store/registrations-repository.js';
import type { RowsRepository } from '../store/rows-repository.js';
import type { SyncRepository, TableRef } from '../store/sync-repository.js';
import { modeLabel } from './poll-service.js';

export interface TableStatus {
  table: string;
  /** As the connector names it (`delta`, `modifiedon`, `cursor`, `snapshot`). */
  mode: ModeLabel | null;
  cursor_age_seconds: number | null;
  run_in_progress: boolean;
  last_poll: { started_at: string | null; finished_at: string | null; outcome: string | null; error: string | null };
  last_success_at: string | null;
  last_reconciled_at: string | null;
  rows_stored: number;
  rows_deleted: number;
  full_resyncs: number;
  last_resync_reason: string | null;
  /** Why the table's sync state was last reset (its connection moved to another org), and when. */
  last_reset_reason: string | null;
  last_reset_at: string | null;
}

/** Which tables a tenant mirrors, checked against its connection's metadata, and how each one's sync stands. */
export class TableRegistry {
  constructor(
    private readonly deps: {
      registrations: RegistrationsRepository;
      sync: SyncRepository;
      rows: RowsRepository;
      connectors: ConnectorSet;
      now: () => Date;
    },
  ) {}

  async register(tenant: string, connector: string, tables: string[]): Promise<string[]> {
    const wanted = [...new Set(tables)].sort();
    const connections = this.deps.connectors.get(connector);
    const known = new Set((await (await connections.connectorFor(tenant)).listTables()).map((t) => t.logical));
    const unknown = wanted.filter((t) => !known.has(t));
    if (unknown.length > 0) {
      throw new BadRequestError('unknown_tables', `${connections.definition.sourceName} has no readable table named ${unknown.map((t) => `'${t}'`).join(', ')}; nothing was changed.`, {
        tables: unknown,
      });
    }
    await this.deps.registrations.replace(tenant, connector, wanted, this.deps.now().toISOString());
    return wanted;
  }

  list(tenant: string, connector: string): Promise<string[]> {
    return this.deps.registrations.list(tenant, connector);
  }

  async requireRegistered(ref: TableRef): Promise<void> {
    if (!(await this.deps.registrations.isRegistered(ref))) {
      throw new NotFoundError('table_not_registered', `Table '${ref.logical}' is not registered for tenant '${ref.tenant}'.`);
    }
  }

  async status(tenant: string, connector: string): Promise<TableStatus[]> {
    const now = this.deps.now().getTime();
    const { definition } = this.deps.connectors.get(connector);
    const tables = await this.list(tenant, connector);
    return Promise.all(tables.map(async (table): Promise<TableStatus> => {
      const ref = { tenant, connector, logical: table };
      const [state, counts] = await Promise.all([this.deps.sync.getState(ref), this.deps.rows.counts(ref)]);
      return {
        table,
        mode: state ? modeLabel(definition, state.mode) : null,
        cursor_age_seconds: state?.cursor && state.cursor_at ? Math.max(0, Math.round((now - Date.parse(state.cursor_at)) / 1000)) : null,
        run_in_progress: Boolean(state?.resume_link),
        last_poll: {
          started_at: state?.last_started_at ?? null,
          finished_at: state?.last_finished_at ?? null,
          outcome: state?.last_outcome ?? null,
          error: state?.last_error ?? null,
        },
        last_success_at: state?.last_success_at ?? null,
        last_reconciled_at: state?.last_reconciled_at ?? null,
        rows_stored: counts.stored,
        rows_deleted: counts.deleted,
        full_resyncs: state?.full_resyncs ?? 0,
        last_resync_reason: state?.last_resync_reason ?? null,
        last_reset_reason: state?.last_reset_reason ?? null,
        last_reset_at: state?.last_reset_at ?? null,
      };
    }));
  }
}
