import type { Migration } from './index.js';

export const migration004: Migration = {
  version: 4,
  name: 'hardening',
  sql: `
    -- source: the org (origin) a table's cursor and rows were read from; a poll whose connection now names another
    -- org starts over with a full read, and a poll still reading the old org cannot commit over the reset.
    ALTER TABLE sync_state ADD COLUMN source TEXT;
    -- Consecutive polls whose stored resume link the server refused for good (4xx); past a bound: a full read.
    ALTER TABLE sync_state ADD COLUMN link_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sync_state ADD COLUMN last_reset_reason TEXT;
    ALTER TABLE sync_state ADD COLUMN last_reset_at TEXT;
  `,
};
