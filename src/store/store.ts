import type { SharedPauses } from '../connectors/http/shared-pauses.js';
import type { PollLockManager } from '../poller/poll-locks.js';
import type { ConnectionsRepository } from './connections-repository.js';
import type { DestinationsRepository } from './destinations-repository.js';
import type { EventDeliveriesRepository } from './event-deliveries-repository.js';
import type { EventsRepository } from './events-repository.js';
import type { RegistrationsRepository } from './registrations-repository.js';
import type { RowsRepository } from './rows-repository.js';
import type { SubmissionsRepository } from './submissions-repository.js';
import type { SyncRepository } from './sync-repository.js';

export type StoreKind = 'sqlite' | 'postgres';

/** Everything the hub keeps, behind the same repositories whichever database holds it. */
export interface Store {
  kind: StoreKind;
  sync: SyncRepository;
  rows: RowsRepository;
  registrations: RegistrationsRepository;
  connections: ConnectionsRepository;
  submissions: SubmissionsRepository;
  events: EventsRepository;
  destinations: DestinationsRepository;
  eventDeliveries: EventDeliveriesRepository;
  /** Poll locks as wide as the store is shared: the process's own for SQLite, every process's for PostgreSQL. */
  locks: PollLockManager;
  /** Throttle pauses every process honours (only a store several processes share has them). */
  pauses?: SharedPauses;
  /** Answers whether the database answers (a cheap query), and the schema version applied. */
  health(): Promise<{ ok: boolean; kind: StoreKind; schema_version: number }>;
  close(): Promise<void>;
}
