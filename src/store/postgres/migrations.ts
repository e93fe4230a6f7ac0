/**
 * The PostgreSQL schema, numbered like SQLite's but its own: it starts at the shape SQLite reached with migration
 * 005 (keyed by tenant + connector + table). A migration is never edited once landed, only followed by a new one.
 */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const pgMigrations: readonly PgMigration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE connections (
        tenant_id   text NOT NULL,
        connector   text NOT NULL,
        fields      text NOT NULL,
        secrets     text NOT NULL,
        updated_at  text NOT NULL,
        PRIMARY KEY (tenant_id, connector)
      );
      CREATE TABLE registered_tables (
        tenant_id      text NOT NULL,
        connector      text NOT NULL,
        logical        text NOT NULL,
        registered_at  text NOT NULL,
        PRIMARY KEY (tenant_id, connector, logical)
      );
      CREATE TABLE sync_state (
        tenant_id           text NOT NULL,
        connector           text NOT NULL,
        logical             text NOT NULL,
        mode                text NOT NULL CHECK (mode IN ('delta', 'cursor', 'snapshot')),
        cursor              text,
        cursor_at           text,
        resume_link         text,
        run_kind            text CHECK (run_kind IN ('incremental', 'full')),
        run_id              bigint,
        last_started_at     text,
        last_finished_at    text,
        last_outcome        text,
        last_error          text,
        last_success_at     text,
        last_reconciled_at  text,
        full_resyncs        integer NOT NULL DEFAULT 0,
        last_resync_reason  text,
        source              text,
        link_failures       integer NOT NULL DEFAULT 0,
        last_reset_reason   text,
        last_reset_at       text,
        PRIMARY KEY (tenant_id, connector, logical)
      );
      CREATE TABLE source_tables (
        table_key  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id  text NOT NULL,
        connector  text NOT NULL,
        logical    text NOT NULL,
        UNIQUE (tenant_id, connector, logical)
      );
      -- As in SQLite: row_key is a row's stable place for keyset paging, seq the hub-wide change sequence,
      -- seen_run the last full read or key reconciliation that saw the row upstream.
      CREATE TABLE rows (
        row_key      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        table_key    integer NOT NULL REFERENCES source_tables (table_key),
        id           text NOT NULL,
        seq          bigint NOT NULL,
        modified_on  text,
        etag         text,
        deleted      smallint NOT NULL DEFAULT 0,
        deleted_at   text,
        data         text NOT NULL,
        seen_run     bigint,
        UNIQUE (table_key, id)
      );
      CREATE INDEX rows_in_order ON rows (table_key, row_key);
      CREATE INDEX rows_by_seq ON rows (table_key, seq);
      CREATE SEQUENCE change_seq;
      CREATE SEQUENCE run_id;
      CREATE TABLE submissions (
        tenant_id        text NOT NULL,
        submission_id    text NOT NULL,
        route            text NOT NULL CHECK (route IN ('local', 'email', 'sftp')),
        body_sha256      text NOT NULL,
        recipients       text,
        subject          text,
        zip_bytes        integer NOT NULL,
        zip_sha256       text NOT NULL,
        status           text NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'pending_retry', 'failed')),
        attempts         integer NOT NULL DEFAULT 0,
        last_error       text,
        location         text,
        next_attempt_at  text,
        created_at       text NOT NULL,
        updated_at       text NOT NULL,
        delivered_at     text,
        PRIMARY KEY (tenant_id, submission_id)
      );
      CREATE INDEX submissions_due ON submissions (status, next_attempt_at);
      CREATE TABLE submission_packages (
        tenant_id      text NOT NULL,
        submission_id  text NOT NULL,
        zip            bytea NOT NULL,
        PRIMARY KEY (tenant_id, submission_id),
        FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, submission_id) ON DELETE CASCADE
      );
    `,
  },
  {
    version: 2,
    name: 'shared-pauses',
    sql: `
      -- A 429's Retry-After per upstream host + principal, so every process holds its requests until then.
      CREATE TABLE upstream_pauses (
        key       text PRIMARY KEY,
        until_ms  bigint NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'delivery-leases',
    sql: `
      -- Until when a process's claim on a delivery holds: past it (the process died mid-attempt) another takes it.
      ALTER TABLE submissions ADD COLUMN lease_until text;
      CREATE INDEX submissions_leases ON submissions (status, lease_until);
    `,
  },
  {
    version: 4,
    name: 'events',
    sql: `
      -- As SQLite migration 6: the events outbox, destinations, and per destination a delivery of each event.
      ALTER TABLE sync_state ADD COLUMN events_seq bigint NOT NULL DEFAULT 0;
      ALTER TABLE sync_state ADD COLUMN pending_seq bigint;
      ALTER TABLE sync_state ADD COLUMN pending_upserted integer NOT NULL DEFAULT 0;
      ALTER TABLE sync_state ADD COLUMN pending_deleted integer NOT NULL DEFAULT 0;
      ALTER TABLE sync_state ADD COLUMN failure_streak integer NOT NULL DEFAULT 0;
      ALTER TABLE sync_state ADD COLUMN failing_since text;
      UPDATE sync_state SET events_seq = (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq);

      CREATE TABLE events (
        sequence    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id          text NOT NULL UNIQUE,
        tenant_id   text NOT NULL,
        type        text NOT NULL,
        logical     text,
        created_at  text NOT NULL,
        data        jsonb NOT NULL
      );
      CREATE INDEX events_by_tenant ON events (tenant_id, sequence);
      CREATE TABLE destinations (
        id                     text PRIMARY KEY,
        tenant_id              text NOT NULL,
        type                   text NOT NULL,
        url                    text NOT NULL,
        url_masked             text NOT NULL,
        events                 text,
        tables                 text,
        description            text,
        secret                 text,
        previous_secret        text,
        previous_secret_until  text,
        enabled                smallint NOT NULL DEFAULT 1,
        disabled_reason        text,
        dispatched_seq         bigint NOT NULL,
        created_at             text NOT NULL,
        updated_at             text NOT NULL
      );
      CREATE INDEX destinations_by_tenant ON destinations (tenant_id, created_at);
      CREATE TABLE event_deliveries (
        id               text PRIMARY KEY,
        destination_id   text NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
        event_sequence   bigint NOT NULL REFERENCES events (sequence),
        status           text NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'pending_retry', 'failed')),
        attempts         integer NOT NULL DEFAULT 0,
        last_status      integer,
        last_error       text,
        next_attempt_at  text,
        lease_until      text,
        delivered_at     text,
        created_at       text NOT NULL,
        updated_at       text NOT NULL,
        UNIQUE (destination_id, event_sequence)
      );
      CREATE INDEX event_deliveries_due ON event_deliveries (status, next_attempt_at);
      CREATE INDEX event_deliveries_of_destination ON event_deliveries (destination_id, status, event_sequence);
    `,
  },
  {
    version: 5,
    name: 'changes-index',
    sql: `
      -- changed_since walks go in (seq, row_key) order: one index range per page (rows_by_seq lacked row_key).
      CREATE INDEX rows_changes ON rows (table_key, seq, row_key);
      DROP INDEX rows_by_seq;
    `,
  },
  {
    version: 6,
    name: 'package-chunks',
    sql: `
      -- A package written and read a chunk at a time, never held whole in memory; existing ones become one chunk.
      CREATE TABLE submission_package_chunks (
        tenant_id      text NOT NULL,
        submission_id  text NOT NULL,
        seq            integer NOT NULL,
        data           bytea NOT NULL,
        PRIMARY KEY (tenant_id, submission_id, seq),
        FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, submission_id) ON DELETE CASCADE
      );
      -- ZIP bytes are compressed already: TOAST keeps them out of line without trying to compress them again.
      ALTER TABLE submission_package_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
      INSERT INTO submission_package_chunks (tenant_id, submission_id, seq, data) SELECT tenant_id, submission_id, 0, zip FROM submission_packages;
      DROP TABLE submission_packages;
    `,
  },
];
