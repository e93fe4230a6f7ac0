import type { Connector } from '../connectors/dataverse/connector.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { RegistrationsRepository } from '../store/registrations-repository.js';
import type { RowsRepository } from '../store/rows-repository.js';
import type { SyncRepository } from '../store/sync-repository.js';

export interface TableStatus {
  table: string;
  mode: 'delta' | 'modifiedon' | null;
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
      connectorFor: (tenant: string) => Connector;
      now: () => Date;
    },
  ) {}

  async register(tenant: string, tables: string[]): Promise<string[]> {
    const wanted = [...new Set(tables)].sort();
    const known = new Set((await this.deps.connectorFor(tenant).listTables()).map((t) => t.logical));
    const unknown = wanted.filter((t) => !known.has(t));
    if (unknown.length > 0) {
      throw new BadRequestError('unknown_tables', `Dataverse has no readable table named ${unknown.map((t) => `'${t}'`).join(', ')}; nothing was changed.`, {
        tables: unknown,
      });
    }
    this.deps.registrations.replace(tenant, wanted, this.deps.now().toISOString());
    return wanted;
  }

  list(tenant: string): string[] {
    return this.deps.registrations.list(tenant);
  }

  requireRegistered(tenant: string, logical: string): void {
    if (!this.deps.registrations.isRegistered(tenant, logical)) {
      throw new NotFoundError('table_not_registered', `Table '${logical}' is not registered for tenant '${tenant}'.`);
    }
  }

  status(tenant: string): TableStatus[] {
    const now = this.deps.now().getTime();
    return this.list(tenant).map((table) => {
      const state = this.deps.sync.getState(tenant, table);
      const counts = this.deps.rows.counts(tenant, table);
      return {
        table,
        mode: state?.mode ?? null,
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
    });
  }
}
