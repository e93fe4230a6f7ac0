import { EventNotifier } from '../event-notifier.js';
import type { Store } from '../store.js';
import { createPool, migratePg } from './pg-db.js';
import { createPgDestinationsRepository } from './pg-destinations-repository.js';
import { createPgEventDeliveriesRepository } from './pg-event-deliveries-repository.js';
import { createPgEventsRepository } from './pg-events-repository.js';
import { createPgConnectionsRepository, createPgRegistrationsRepository, createPgRowsRepository } from './pg-repositories.js';
import { PgPollLocks } from './pg-poll-locks.js';
import { createPgSubmissionsRepository } from './pg-submissions-repository.js';
import { createPgSyncRepository } from './pg-sync-repository.js';

/** HUB_DATABASE_URL: everything in PostgreSQL, so several hub processes can share one database. */
export async function createPgStore(url: string): Promise<Store> {
  const pool = createPool(url);
  // A connection dropped by the server is replaced at the next query; an error on an idle one must not end the process.
  pool.on('error', () => undefined);
  await migratePg(pool);
  const locks = new PgPollLocks(url);
  const notifier = new EventNotifier();
  return {
    kind: 'postgres',
    sync: createPgSyncRepository(pool, notifier),
    rows: createPgRowsRepository(pool),
    registrations: createPgRegistrationsRepository(pool),
    connections: createPgConnectionsRepository(pool),
    submissions: createPgSubmissionsRepository(pool, notifier),
    events: createPgEventsRepository(pool, notifier),
    destinations: createPgDestinationsRepository(pool),
    eventDeliveries: createPgEventDeliveriesRepository(pool),
    locks,
    pauses: {
      until: async (key) => (await pool.query<{ until_ms: number }>('SELECT until_ms FROM upstream_pauses WHERE key = $1', [key])).rows[0]?.until_ms ?? 0,
      extend: async (key, until) => {
        await pool.query(
          'INSERT INTO upstream_pauses (key, until_ms) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET until_ms = GREATEST(upstream_pauses.until_ms, excluded.until_ms)',
          [key, Math.ceil(until)],
        );
      },
    },
    health: async () => {
      try {
        const version = (await pool.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_migrations')).rows[0]?.version ?? 0;
        return { ok: true, kind: 'postgres', schema_version: version };
      } catch {
        return { ok: false, kind: 'postgres', schema_version: 0 };
      }
    },
    // Locks first: another process may take this one's tables at once.
    close: async () => {
      await locks.close();
      await pool.end();
    },
  };
}
