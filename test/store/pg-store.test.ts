import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CircuitBreaker } from '../../src/connectors/http/circuit-breaker.js';
import { SharedPause } from '../../src/connectors/http/shared-pauses.js';
import { pgMigrations } from '../../src/store/postgres/migrations.js';
import { pgChangesSql } from '../../src/store/postgres/pg-repositories.js';
import { createPgStore } from '../../src/store/postgres/pg-store.js';
import type { Store } from '../../src/store/store.js';
import { tempDir, testDatabaseUrl } from '../helpers/build-test-app.js';
import { waitFor } from '../helpers/wait.js';

/** The PostgreSQL store on its own, against the machine's PostgreSQL (the postgres project runs this file). */
async function pgStore(url = testDatabaseUrl(tempDir())): Promise<Store> {
  const store = await createPgStore(url);
  onTestFinished(() => store.close());
  return store;
}

const NOW = '2026-12-03T10:00:00.000Z';
const SOURCE = 'https://org.example.com';
const position = { resume_link: null, cursor: null, run_kind: null, run_id: null };
const row = (id: string, name: string) => ({ id, modified_on: NOW, etag: `W/"${name}"`, data: JSON.stringify({ id, name }) });

describe('PostgreSQL store', () => {
  it('migrates once when several processes start on one fresh database at the same moment', async () => {
    const url = testDatabaseUrl(tempDir());
    const stores = await Promise.all([createPgStore(url), createPgStore(url), createPgStore(url)]);
    onTestFinished(() => Promise.all(stores.map((s) => s.close())).then(() => undefined));
    for (const store of stores) expect(await store.health()).toStrictEqual({ ok: true, kind: 'postgres', schema_version: pgMigrations.at(-1)!.version });
  });

  it('commits a page, its tombstones and position together; unchanged rows are not rewritten; a stale source is refused', async () => {
    const { sync, rows } = await pgStore();
    const table = { tenant: 'acme', connector: 'bc', logical: 'customers' };
    await sync.startPoll(table, { mode: 'cursor', source: SOURCE, position, now: NOW });
    const commit = (page: Partial<Parameters<typeof sync.commitPage>[0]>) =>
      sync.commitPage({ table, source: SOURCE, rows: [], deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW, ...page });
    expect(await commit({ rows: [row('a', 'A'), row('b', 'B'), row('a', 'A')] })).toStrictEqual({ upserted: 2, deleted: 0, stale: false });
    expect(await commit({ rows: [row('a', 'A'), row('b', 'B2')], deletedIds: ['a'], position: { ...position, cursor: NOW } })).toStrictEqual({ upserted: 1, deleted: 1, stale: false });
    expect((await sync.getState(table))?.cursor).toBe(NOW);
    const stored = await rows.page({ table, sinceSeq: 0, afterKey: 0, limit: 10, includeDeleted: true });
    expect(stored.map((r) => [r.id, r.deleted, JSON.parse(r.data.toString()).name])).toStrictEqual([
      ['a', 1, 'A'],
      ['b', 0, 'B2'],
    ]);
    expect(await rows.counts(table)).toStrictEqual({ stored: 2, deleted: 1 });
    await sync.reset({ tenant: 'acme', connector: 'bc' }, 'https://other.example.com', 'moved', NOW);
    expect(await commit({ rows: [row('c', 'C')] })).toStrictEqual({ stale: true });
  });

  it('stores each row\'s own text, bytes or string, in order; a page whose row holds U+001E (the separator of the joined texts) goes as an array and stays aligned', async () => {
    const { sync, rows } = await pgStore();
    const table = { tenant: 'acme', connector: 'd365', logical: 'account' };
    await sync.startPoll(table, { mode: 'cursor', source: SOURCE, position, now: NOW });
    const commit = (page: Array<{ id: string; data: string | Buffer }>) =>
      sync.commitPage({ table, source: SOURCE, rows: page.map((r) => ({ ...r, modified_on: null, etag: null })), deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW });
    const texts = ['{"n":"Zürich \\"q\\" \\\\ 😀"}', '{"n":"{}[],:\\u001e"}', '{}'];
    await commit([{ id: 'a', data: Buffer.from(texts[0]!) }, { id: 'b', data: texts[1]! }, { id: 'c', data: Buffer.from(texts[2]!) }]);
    // Not JSON (a raw control character), kept as sent all the same: the ids must still get their own texts.
    await commit([{ id: 'd', data: '{"n":"x\u001ey"}' }, { id: 'e', data: Buffer.from('{"n":"e"}') }]);
    const stored = await rows.page({ table, sinceSeq: 0, afterKey: 0, limit: 10, includeDeleted: true });
    expect(stored.map((r) => [r.id, r.data.toString()])).toStrictEqual([
      ['a', texts[0]],
      ['b', texts[1]],
      ['c', texts[2]],
      ['d', '{"n":"x\u001ey"}'],
      ['e', '{"n":"e"}'],
    ]);
  });

  it('commits of one table at once queue behind each other, and every change gets a later sequence number', async () => {
    const { sync, rows } = await pgStore();
    const table = { tenant: 'acme', connector: 'd365', logical: 'account' };
    await sync.startPoll(table, { mode: 'delta', source: SOURCE, position, now: NOW });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => sync.commitPage({ table, source: SOURCE, rows: [row(`r${i}`, `v${i}`)], deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW })),
    );
    expect(results.every((r) => !r.stale && r.upserted === 1)).toBe(true);
    const stored = await rows.page({ table, sinceSeq: 0, afterKey: 0, limit: 20, includeDeleted: false });
    expect(new Set(stored.map((r) => r.id)).size).toBe(10);
    expect(await rows.maxSeq(table)).toBeGreaterThanOrEqual(10);
  });

  it('a page that rolls back on a table’s first commit never hands its key to another table', async () => {
    const url = testDatabaseUrl(tempDir());
    const { sync, rows } = await pgStore(url);
    const acme = { tenant: 'acme', connector: 'bc', logical: 'customers' };
    const other = { tenant: 'other', connector: 'd365', logical: 'account' };
    for (const table of [acme, other]) await sync.startPoll(table, { mode: 'cursor', source: SOURCE, position, now: NOW });
    const commit = (table: typeof acme, rowsIn: Array<ReturnType<typeof row>>) =>
      sync.commitPage({ table, source: SOURCE, rows: rowsIn, deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW });
    // A NUL byte is refused by PostgreSQL text: the first page of acme fails inside its transaction.
    await expect(commit(acme, [row('bad', 'has \u0000 nul')])).rejects.toThrow();
    await commit(other, [row('b1', 'other')]);
    await commit(acme, [row('a2', 'acme')]);
    const ids = async (table: typeof acme) => (await rows.page({ table, sinceSeq: 0, afterKey: 0, limit: 10, includeDeleted: true })).map((r) => r.id);
    expect(await ids(other)).toStrictEqual(['b1']);
    expect(await ids(acme)).toStrictEqual(['a2']);
  });

  it('stores one submission when the same id is inserted by many at once, its package in 1 MiB chunks', async () => {
    const { submissions } = await pgStore();
    const zip = randomBytes(2.5 * 1024 * 1024);
    const zipPath = join(tempDir(), 'package.zip');
    writeFileSync(zipPath, zip);
    const submission = {
      tenant_id: 'acme', submission_id: 's1', route: 'local' as const, body_sha256: 'x', recipients: null, subject: null,
      zip_bytes: zip.length, zip_sha256: 'y', created_at: NOW, zipPath,
    };
    const inserted = await Promise.all(Array.from({ length: 20 }, () => submissions.insert(submission)));
    expect(inserted.filter(Boolean)).toHaveLength(1);
    const chunks = [0, 1, 2, 3].map((seq) => submissions.packageChunk('acme', 's1', seq));
    expect((await Promise.all(chunks)).map((c) => c?.length)).toStrictEqual([1024 * 1024, 1024 * 1024, 512 * 1024, undefined]);
    expect(Buffer.concat((await Promise.all(chunks)).filter((c) => c !== undefined))).toStrictEqual(zip);
    const lease = '2026-12-03T10:05:30.000Z';
    const claims = await Promise.all(Array.from({ length: 5 }, () => submissions.claim('acme', 's1', NOW, lease)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    // The claiming process dies: nobody takes the delivery while its lease holds, anybody once it ran out.
    const later = '2026-12-03T10:06:00.000Z';
    expect(await submissions.due(NOW, 10)).toStrictEqual([]);
    expect(await submissions.recoverInterrupted(NOW)).toBe(0);
    expect(await submissions.due(later, 10)).toStrictEqual([{ tenant_id: 'acme', submission_id: 's1' }]);
    expect(await submissions.claim('acme', 's1', '2026-12-03T10:01:00.000Z', lease)).toBe(false);
    expect(await submissions.claim('acme', 's1', later, '2026-12-03T10:12:00.000Z')).toBe(true);
    expect((await submissions.get('acme', 's1'))?.attempts).toBe(2);
  });

  it('a circuit one process opened fails fast in another process until its cool-down ends', async () => {
    const url = testDatabaseUrl(tempDir());
    const [one, two] = [await pgStore(url), await pgStore(url)];
    const system = { id: 'd365', name: 'Dynamics 365' };
    const key = 'circuit|https://org.example.com';
    const first = new CircuitBreaker({ system, threshold: 2, cooldownMs: 60_000, shared: new SharedPause(one.pauses!, key) });
    const second = new CircuitBreaker({ system, threshold: 2, cooldownMs: 60_000, shared: new SharedPause(two.pauses!, key) });
    expect(await second.admit()).toBe(false);
    first.failure();
    first.failure();
    await expect(first.admit()).rejects.toThrow(/d365|Dynamics 365 failed 2 times in a row/);
    await waitFor(async () => (await two.pauses!.until(key)) > Date.now());
    await expect(second.admit()).rejects.toMatchObject({ code: 'd365_unavailable', message: expect.stringContaining('opened by another hub process') });
  });

  it('a changed_since page is one range of the rows_changes index (no scan, no sort), on a table with statistics', async () => {
    const url = testDatabaseUrl(tempDir());
    const { sync } = await pgStore(url);
    const table = { tenant: 'acme', connector: 'd365', logical: 'account' };
    await sync.startPoll(table, { mode: 'delta', source: SOURCE, position, now: NOW });
    const page = (from: number, n: number, v: string) => Array.from({ length: n }, (_, i) => row(`r${from + i}`, `${v}${from + i}`));
    for (let p = 0; p < 20; p++) await sync.commitPage({ table, source: SOURCE, rows: page(p * 1000, 1000, 'a'), deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW });
    await sync.commitPage({ table, source: SOURCE, rows: page(0, 200, 'b'), deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    onTestFinished(() => client.end());
    await client.query('ANALYZE rows');
    const { rows: keyRows } = await client.query<{ table_key: number; max: number }>('SELECT table_key, MAX(seq) AS max FROM rows GROUP BY table_key');
    const { table_key, max } = keyRows[0]!;
    for (const includeDeleted of [true, false]) {
      await client.query(`PREPARE changes_${includeDeleted} AS ${pgChangesSql(includeDeleted)}`);
      const plan = (await client.query(`EXPLAIN (FORMAT JSON) EXECUTE changes_${includeDeleted}(${table_key}, ${max}, ${max - 1}, ${Number.MAX_SAFE_INTEGER}, 5000)`)).rows[0]['QUERY PLAN'][0].Plan;
      expect(plan['Node Type']).toBe('Limit');
      expect(plan.Plans[0]).toMatchObject({ 'Node Type': 'Index Scan', 'Index Name': 'rows_changes' });
    }
  });
});

