import type { Migration } from './index.js';

/**
 * Several connectors: connections, registrations, sync state and rows are keyed by tenant + connector + table.
 * Everything stored so far came from Dataverse and moves to connector 'd365' without losing a row, cursor or
 * resume link; row_key and seq are kept, so rows API cursors and change sequences stay valid.
 */
export const migration005: Migration = {
  version: 5,
  name: 'connectors',
  sql: `
    -- A tenant's own connection to one connector: plain fields as JSON, secrets as JSON of sealed values.
    CREATE TABLE connections (
      tenant_id   TEXT NOT NULL,
      connector   TEXT NOT NULL,
      fields      TEXT NOT NULL,
      secrets     TEXT NOT NULL,
      updated_at  TEXT NOT NULL,
      PRIMARY KEY (tenant_id, connector)
    ) STRICT;
    INSERT INTO connections (tenant_id, connector, fields, secrets, updated_at)
      SELECT tenant_id, 'd365',
        json_object('org_url', org_url, 'tenant_id', entra_tenant_id, 'client_id', client_id, 'authority_host', authority_host),
        json_object('client_secret', client_secret_enc), updated_at
      FROM d365_connections;
    DROP TABLE d365_connections;

    CREATE TABLE registered_tables_new (
      tenant_id      TEXT NOT NULL,
      connector      TEXT NOT NULL,
      logical        TEXT NOT NULL,
      registered_at  TEXT NOT NULL,
      PRIMARY KEY (tenant_id, connector, logical)
    ) STRICT;
    INSERT INTO registered_tables_new SELECT tenant_id, 'd365', logical, registered_at FROM registered_tables;
    DROP TABLE registered_tables;
    ALTER TABLE registered_tables_new RENAME TO registered_tables;

    -- mode: how the table is read. delta: cursor is the change-tracking link. cursor: cursor is the last
    -- modified instant fully read (Dataverse modifiedon, BC lastModifiedDateTime). snapshot: full read and compare.
    CREATE TABLE sync_state_new (
      tenant_id           TEXT NOT NULL,
      connector           TEXT NOT NULL,
      logical             TEXT NOT NULL,
      mode                TEXT NOT NULL CHECK (mode IN ('delta', 'cursor', 'snapshot')),
      cursor              TEXT,
      cursor_at           TEXT,
      resume_link         TEXT,
      run_kind            TEXT CHECK (run_kind IN ('incremental', 'full')),
      run_id              INTEGER,
      last_started_at     TEXT,
      last_finished_at    TEXT,
      last_outcome        TEXT,
      last_error          TEXT,
      last_success_at     TEXT,
      last_reconciled_at  TEXT,
      full_resyncs        INTEGER NOT NULL DEFAULT 0,
      last_resync_reason  TEXT,
      source              TEXT,
      link_failures       INTEGER NOT NULL DEFAULT 0,
      last_reset_reason   TEXT,
      last_reset_at       TEXT,
      PRIMARY KEY (tenant_id, connector, logical)
    ) STRICT;
    INSERT INTO sync_state_new
      SELECT tenant_id, 'd365', logical, CASE mode WHEN 'modifiedon' THEN 'cursor' ELSE mode END,
        cursor, cursor_at, resume_link, run_kind, run_id, last_started_at, last_finished_at, last_outcome, last_error,
        last_success_at, last_reconciled_at, full_resyncs, last_resync_reason, source, link_failures, last_reset_reason, last_reset_at
      FROM sync_state;
    DROP TABLE sync_state;
    ALTER TABLE sync_state_new RENAME TO sync_state;

    -- A small integer per tenant + connector + table, so row indexes hold an integer instead of three strings.
    CREATE TABLE source_tables (
      table_key  INTEGER PRIMARY KEY,
      tenant_id  TEXT NOT NULL,
      connector  TEXT NOT NULL,
      logical    TEXT NOT NULL,
      UNIQUE (tenant_id, connector, logical)
    ) STRICT;
    INSERT INTO source_tables (tenant_id, connector, logical)
      SELECT DISTINCT tenant_id, 'd365', logical FROM rows ORDER BY tenant_id, logical;

    CREATE TABLE rows_new (
      row_key      INTEGER PRIMARY KEY,
      table_key    INTEGER NOT NULL REFERENCES source_tables (table_key),
      id           TEXT NOT NULL,
      seq          INTEGER NOT NULL,
      modified_on  TEXT,
      etag         TEXT,
      deleted      INTEGER NOT NULL DEFAULT 0,
      deleted_at   TEXT,
      data         TEXT NOT NULL,
      seen_run     INTEGER,
      UNIQUE (table_key, id)
    ) STRICT;
    INSERT INTO rows_new (row_key, table_key, id, seq, modified_on, etag, deleted, deleted_at, data, seen_run)
      SELECT r.row_key, t.table_key, r.id, r.seq, r.modified_on, r.etag, r.deleted, r.deleted_at, r.data, r.seen_run
      FROM rows r JOIN source_tables t ON t.tenant_id = r.tenant_id AND t.connector = 'd365' AND t.logical = r.logical;
    DROP TABLE rows;
    ALTER TABLE rows_new RENAME TO rows;
    CREATE INDEX rows_in_order ON rows (table_key, row_key);
    CREATE INDEX rows_by_seq ON rows (table_key, seq);
  `,
};
