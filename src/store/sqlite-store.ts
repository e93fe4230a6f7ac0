import { PollLocks } from '../poller/poll-locks.js';
import { createConnectionsRepository } from './connections-repository.js';
import { openDatabase, type Db } from './db.js';
import { EventNotifier } from './event-notifier.js';
import { createDestinationsRepository } from './destinations-repository.js';
import { createEventDeliveriesRepository } from './event-deliveries-repository.js';
import { createEventsRepository } from './events-repository.js';
import { createRegistrationsRepository } from './registrations-repository.js';
import { createRowsRepository } from './rows-repository.js';
import type { Store } from './store.js';
import { createSubmissionsRepository } from './submissions-repository.js';
import { createSyncRepository } from './sync-repository.js';

/** The default store: one SQLite file (WAL), for one hub process. */
export function createSqliteStore(pathOrDb: string | Db): Store {
  const db = typeof pathOrDb === 'string' ? openDatabase(pathOrDb) : pathOrDb;
  const notifier = new EventNotifier();
  const version = db.prepare<[], number | null>('SELECT MAX(version) FROM schema_migrations').pluck();
  return {
    kind: 'sqlite',
    sync: createSyncRepository(db, notifier),
    rows: createRowsRepository(db),
    registrations: createRegistrationsRepository(db),
    connections: createConnectionsRepository(db),
    submissions: createSubmissionsRepository(db, notifier),
    events: createEventsRepository(db, notifier),
    destinations: createDestinationsRepository(db),
    eventDeliveries: createEventDeliveriesRepository(db),
    locks: new PollLocks(),
    health: async () => {
      try {
        return { ok: db.open, kind: 'sqlite', schema_version: version.get() ?? 0 };
      } catch {
        return { ok: false, kind: 'sqlite', schema_version: 0 };
      }
    },
    close: async () => {
      if (db.open) db.close();
    },
  };
}
