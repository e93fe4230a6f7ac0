import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { buildTestApp, tempDir } from '../helpers/build-test-app.js';
import { hubClient } from '../helpers/hub-client.js';
import { sandboxEnv, sandboxHosts, startTestSandbox } from '../helpers/sandbox.js';
import { storedRows } from '../helpers/stored-rows.js';

/**
 * The migration to per-connector keys, on a database written by the release before it (test/fixtures/store/README.md
 * says how it was made): no row, cursor, resume link, tombstone or secret may be lost, and polls go on from there.
 */
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'store', 'release-0.1-schema4.db');
const SECRET_KEY = 'release-fixture-secret-key-0123456789';

function copyOfRelease(): string {
  const path = join(tempDir(), 'hub.db');
  copyFileSync(FIXTURE, path);
  return path;
}

type OldRow = { tenant_id: string; logical: string; id: string; row_key: number; seq: number; deleted: number; data: string; etag: string | null; modified_on: string | null };
type OldState = { tenant_id: string; logical: string; mode: string; cursor: string | null; resume_link: string | null; run_kind: string | null; run_id: number | null; source: string | null };

function releaseContents(path: string) {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare('SELECT tenant_id, logical, id, row_key, seq, deleted, data, etag, modified_on FROM rows ORDER BY row_key').all() as OldRow[];
  const states = db.prepare('SELECT tenant_id, logical, mode, cursor, resume_link, run_kind, run_id, source FROM sync_state ORDER BY tenant_id, logical').all() as OldState[];
  const version = db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get();
  db.close();
  return { rows, states, version };
}

describe('migration 005 on a release database', () => {
  it('moves every row, cursor, resume link, tombstone and registration to connector d365', () => {
    const path = copyOfRelease();
    const before = releaseContents(path);
    expect(before.version).toBe(4);
    expect(before.rows.length).toBe(82);

    const db = openDatabase(path);
    const after = db
      .prepare(
        `SELECT t.tenant_id, t.connector, t.logical, r.id, r.row_key, r.seq, r.deleted, r.data, r.etag, r.modified_on
         FROM rows r JOIN source_tables t USING (table_key) ORDER BY r.row_key`,
      )
      .all() as Array<OldRow & { connector: string }>;
    expect(after.map(({ connector: _c, ...row }) => row)).toStrictEqual(before.rows);
    expect(new Set(after.map((r) => r.connector))).toStrictEqual(new Set(['d365']));
    expect(after.filter((r) => r.deleted === 1).map((r) => `${r.tenant_id}/${r.logical}`).sort()).toStrictEqual(['acme/account', 'acme/cr83d_supplierquote']);

    const states = db.prepare('SELECT tenant_id, logical, connector, mode, cursor, resume_link, run_kind, run_id, source FROM sync_state ORDER BY tenant_id, logical').all() as Array<
      OldState & { connector: string }
    >;
    expect(states.map(({ connector: _c, ...s }) => s)).toStrictEqual(before.states.map((s) => ({ ...s, mode: s.mode === 'modifiedon' ? 'cursor' : s.mode })));
    expect(states.find((s) => s.tenant_id === 'globex')).toMatchObject({ connector: 'd365', run_kind: 'full', resume_link: expect.stringContaining('skiptoken') });
    expect(db.prepare('SELECT tenant_id, connector, logical FROM registered_tables ORDER BY 1, 3').all()).toStrictEqual([
      { tenant_id: 'acme', connector: 'd365', logical: 'account' },
      { tenant_id: 'acme', connector: 'd365', logical: 'cr83d_supplierquote' },
      { tenant_id: 'globex', connector: 'd365', logical: 'contact' },
    ]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toStrictEqual([]);
    db.close();
  });

  it('serves the migrated rows, decrypts the moved secret and polls on from the stored cursors and resume link', async () => {
    const path = copyOfRelease();
    const before = releaseContents(path);
    // The org the release read, again: same seed, same ports (the stored links and connection name them).
    const sandbox = await startTestSandbox({ seed: 7, port: 36583, entraPort: 32785 });
    const { app } = await buildTestApp(
      { ...sandboxEnv(sandbox), HUB_DB_PATH: path, HUB_SECRET_KEY: SECRET_KEY, D365_ALLOWED_HOSTS: sandboxHosts([sandbox]), D365_PAGE_SIZE: '7' },
      { extraCa: [sandbox.caPem], retryDelays: { baseDelayMs: 5, maxDelayMs: 20 } },
    );
    const acme = hubClient(app, 'acme');
    const globex = hubClient(app, 'globex');

    const connection = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/connection' });
    expect(connection.json()).toMatchObject({ tenant: 'acme', org_url: sandbox.orgUrl, authority_host: sandbox.authorityHost, client_secret_set: true });
    const test = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(test.statusCode, test.body).toBe(200);

    const status = (await acme.status()).tables as Array<{ table: string; mode: string; rows_stored: number; rows_deleted: number }>;
    expect(status.map((t) => [t.table, t.mode, t.rows_stored, t.rows_deleted])).toStrictEqual([
      ['account', 'delta', 40, 1],
      ['cr83d_supplierquote', 'modifiedon', 35, 1],
    ]);
    const served = await acme.allRows('account', { includeDeleted: true });
    const old = before.rows.filter((r) => r.tenant_id === 'acme' && r.logical === 'account');
    expect(served.map((r) => [r.id, r.deleted, r.data])).toStrictEqual(old.map((r) => [r.id, r.deleted === 1, JSON.parse(r.data)]));

    // Incremental from the stored delta link and watermark: nothing is read again in full.
    const polled = await acme.poll();
    expect(polled.tables.map((t) => [t.table, t.mode, t.outcome])).toStrictEqual([
      ['account', 'delta', 'ok'],
      ['cr83d_supplierquote', 'modifiedon', 'ok'],
    ]);
    const accountRequests = sandbox.requests.filter((r) => r.server === 'dataverse' && r.url.startsWith('/api/data/v9.2/accounts'));
    expect(accountRequests.map((r) => r.url)).toStrictEqual([new URL(before.states.find((s) => s.logical === 'account')!.cursor!).pathname + new URL(before.states.find((s) => s.logical === 'account')!.cursor!).search]);

    // globex's full read resumes from its stored link and ends in an exact mirror.
    const resumed = await globex.poll();
    expect(resumed.tables[0]).toMatchObject({ table: 'contact', outcome: 'ok' });
    const globexResume = before.states.find((s) => s.tenant_id === 'globex')!.resume_link!;
    const firstContactRequest = sandbox.requests.find((r) => r.server === 'dataverse' && r.url.startsWith('/api/data/v9.2/contacts'))!;
    expect(firstContactRequest.url).toBe(new URL(globexResume).pathname + new URL(globexResume).search);
    await app.close();
    // The rows of the page the release committed were read from a sandbox of the same seed but another clock, so ids
    // (not modifiedon stamps) are what both runs share.
    const stored = storedRows(path, 'globex', 'contact');
    expect([...stored].filter(([, r]) => r.deleted === 0).map(([id]) => id).sort()).toStrictEqual(sandbox.data.rows('contact').map((r) => String(r.contactid)).sort());
  });
});
