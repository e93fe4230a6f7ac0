import type { Migration } from './index.js';

/**
 * Events and destinations. `events` is the outbox: an event is written in the transaction of the change that
 * caused it (a poll's end, a submission's outcome). Deliveries are made from it per destination, each destination
 * remembering up to which event it has them (`dispatched_seq`).
 */
export const migration006: Migration = {
  version: 6,
  name: 'events',
  sql: `
    -- events_seq: the rows.changed events of the table cover changes up to here. pending_*: the changes committed
    -- since (each page adds its own in its transaction), made into one event when the poll ends, or by the next
    -- poll's end after a crash. Tables that exist already start their events from now.
    ALTER TABLE sync_state ADD COLUMN events_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sync_state ADD COLUMN pending_seq INTEGER;
    ALTER TABLE sync_state ADD COLUMN pending_upserted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sync_state ADD COLUMN pending_deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sync_state ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sync_state ADD COLUMN failing_since TEXT;
    UPDATE sync_state SET events_seq = (SELECT value FROM counters WHERE name = 'change_seq');

    CREATE TABLE events (
      sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
      id          TEXT NOT NULL UNIQUE,
      tenant_id   TEXT NOT NULL,
      type        TEXT NOT NULL,
      -- The table an event is about (rows.changed, poll.*), for destination filters.
      logical     TEXT,
      created_at  TEXT NOT NULL,
      data        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX events_by_tenant ON events (tenant_id, sequence);

    -- url, secret, previous_secret: sealed (HUB_SECRET_KEY). events / tables: JSON arrays, null = every one.
    CREATE TABLE destinations (
      id                     TEXT PRIMARY KEY,
      tenant_id              TEXT NOT NULL,
      type                   TEXT NOT NULL,
      url                    TEXT NOT NULL,
      url_masked             TEXT NOT NULL,
      events                 TEXT,
      tables                 TEXT,
      description            TEXT,
      secret                 TEXT,
      previous_secret        TEXT,
      previous_secret_until  TEXT,
      enabled                INTEGER NOT NULL DEFAULT 1,
      disabled_reason        TEXT,
      dispatched_seq         INTEGER NOT NULL,
      created_at             TEXT NOT NULL,
      updated_at             TEXT NOT NULL
    ) STRICT;
    CREATE INDEX destinations_by_tenant ON destinations (tenant_id, created_at);

    CREATE TABLE event_deliveries (
      id               TEXT PRIMARY KEY,
      destination_id   TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
      event_sequence   INTEGER NOT NULL REFERENCES events (sequence),
      status           TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'pending_retry', 'failed')),
      attempts         INTEGER NOT NULL DEFAULT 0,
      last_status      INTEGER,
      last_error       TEXT,
      next_attempt_at  TEXT,
      lease_until      TEXT,
      delivered_at     TEXT,
      created_at       TEXT NOT NULL,
      updated_at       TEXT NOT NULL,
      UNIQUE (destination_id, event_sequence)
    ) STRICT;
    CREATE INDEX event_deliveries_due ON event_deliveries (status, next_attempt_at);
    CREATE INDEX event_deliveries_of_destination ON event_deliveries (destination_id, status, event_sequence);
  `,
};
