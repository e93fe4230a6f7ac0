import Database from 'better-sqlite3';
import pg from 'pg';
import type { Config } from '../../src/config.js';

/**
 * Rows of a query run directly against the test's store (SQLite file or PostgreSQL schema), bypassing the hub, to
 * see what is at rest. Write the query with `?` placeholders; they become `$n` for PostgreSQL.
 */
export async function peekStore(config: Config, sql: string, args: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  if (config.databaseUrl) {
    const client = new pg.Client({ connectionString: config.databaseUrl });
    await client.connect();
    try {
      let n = 0;
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`), args)).rows;
    } finally {
      await client.end();
    }
  }
  const db = new Database(config.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...args) as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
}
