import type { Migration } from './index.js';

export const migration001: Migration = {
  version: 1,
  name: 'connections',
  sql: `
    CREATE TABLE d365_connections (
      tenant_id          TEXT PRIMARY KEY,
      org_url            TEXT NOT NULL,
      entra_tenant_id    TEXT NOT NULL,
      client_id          TEXT NOT NULL,
      client_secret_enc  TEXT NOT NULL,
      authority_host     TEXT,
      updated_at         TEXT NOT NULL
    ) STRICT;
  `,
};
