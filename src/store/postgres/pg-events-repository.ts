import type { NewEvent } from '../../events/event.js';
import { eventOf, type EventsRepository } from '../events-repository.js';
import type { EventNotifier } from '../event-notifier.js';
import type { PgClient, PgPool } from './pg-db.js';

/**
 * Writes events inside the caller's transaction; answers whether it wrote any (the caller notifies after its commit). Sequences are taken under a transaction-scoped lock held to the
 * commit, so events commit in sequence order: a reader that has seen sequence n never meets a smaller one later
 * (an identity column alone does not promise that across concurrent transactions).
 */
export async function writePgEvents(client: PgClient, events: NewEvent[]): Promise<boolean> {
  if (events.length === 0) return false;
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['integration-hub:events']);
  for (const e of events) {
    await client.query('INSERT INTO events (id, tenant_id, type, logical, created_at, data) VALUES ($1, $2, $3, $4, $5, $6)', [
      e.id,
      e.tenant_id,
      e.type,
      e.logical,
      e.created_at,
      JSON.stringify(e.data),
    ]);
  }
  return true;
}

export function createPgEventsRepository(pool: PgPool, notifier: EventNotifier): EventsRepository {
  const COLUMNS = 'sequence, id, tenant_id, type, created_at, data';
  return {
    list: async (tenant, after, limit, type) => {
      const { rows } = type
        ? await pool.query(`SELECT ${COLUMNS} FROM events WHERE tenant_id = $1 AND sequence > $2 AND type = $3 ORDER BY sequence LIMIT $4`, [tenant, after, type, limit])
        : await pool.query(`SELECT ${COLUMNS} FROM events WHERE tenant_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3`, [tenant, after, limit]);
      return rows.map(eventOf);
    },
    latestSequence: async () => (await pool.query<{ latest: number }>('SELECT COALESCE(MAX(sequence), 0) AS latest FROM events')).rows[0]!.latest,
    onWritten: (listener) => notifier.on(listener),
  };
}
