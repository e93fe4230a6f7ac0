import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { onTestFinished } from 'vitest';
import { buildApp, type BuildAppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createPgStore } from '../../src/store/postgres/pg-store.js';
import { createSqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';

/** A fresh folder removed when the current test ends. */
export function tempDir(prefix = 'hub-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Config as `main` would load it from this environment, with the test's files in a temp folder. In the postgres
 * test project (HUB_TEST_STORE=postgres) the store is a PostgreSQL schema of its own per folder, so two configs for
 * one folder (a restart) share it.
 */
export function testConfig(env: Record<string, string | undefined> = {}, dir = tempDir()): Config {
  return loadConfig({
    HUB_DB_PATH: join(dir, 'data', 'hub.db'),
    ...(process.env.HUB_TEST_STORE === 'postgres' ? { HUB_DATABASE_URL: testDatabaseUrl(dir) } : {}),
    SUBMISSION_DIR: join(dir, 'out'),
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/** The PostgreSQL the tests use (the machine's: trust auth for root on 127.0.0.1). */
export const TEST_PG_URL = process.env.HUB_TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
/** Schemas the tests make start with this; the postgres project's global teardown drops them. */
export const TEST_SCHEMA_PREFIX = 'hub_t_';

/** A URL whose connections use a fresh schema named after `dir` (made now, with psql, as config loading is synchronous). */
export function testDatabaseUrl(dir: string): string {
  const schema = `${TEST_SCHEMA_PREFIX}${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`;
  const made = spawnSync('psql', [TEST_PG_URL, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE SCHEMA IF NOT EXISTS ${schema}`], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`could not create test schema ${schema}: ${made.stderr}`);
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** The store of the current test project (SQLite file or PostgreSQL schema), closed when the test ends. */
export async function openTestStore(): Promise<Store> {
  const dir = tempDir();
  const store = process.env.HUB_TEST_STORE === 'postgres' ? await createPgStore(testDatabaseUrl(dir)) : createSqliteStore(join(dir, 'hub.db'));
  onTestFinished(() => store.close());
  return store;
}

/** The whole hub, built without listening and closed when the test ends. */
export async function buildTestApp(env: Record<string, string | undefined> = {}, options: BuildAppOptions = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = testConfig(env);
  const app = await buildApp(config, { logger: false, ...options });
  onTestFinished(() => app.close());
  return { app, config };
}
