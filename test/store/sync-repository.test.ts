import { describe, expect, it } from 'vitest';
import { rowJsonBytes } from '../../src/store/rows-repository.js';
import type { PageCommit } from '../../src/store/sync-repository.js';
import { openTestStore } from '../helpers/build-test-app.js';

const NOW = '2026-11-24T12:00:00.000Z';
const ORG = 'https://org-a.crm.dynamics.com';
const T1 = { tenant: 't1', connector: 'd365', logical: 'account' };

/** Runs on the store of the test project: the same contract for SQLite and PostgreSQL. */
async function setup() {
  const { sync, rows } = await openTestStore();
  await sync.startPoll(T1, { mode: 'delta', source: ORG, position: { resume_link: null, cursor: null, run_kind: 'full', run_id: 1 }, now: NOW });
  const commit = (partial: Partial<PageCommit>) =>
    sync.commitPage({
      table: T1,
      source: ORG,
      rows: [],
      deletedIds: [],
      seenRun: null,
      tombstoneUnseenOf: null,
      position: { resume_link: null, cursor: 'delta-1', run_kind: null, run_id: null },
      now: NOW,
      ...partial,
    });
  const all = () => rows.page({ table: T1, sinceSeq: 0, afterKey: 0, limit: 100, includeDeleted: true });
  return { sync, rows, commit, all };
}

/** A row no store accepts: its columns are missing. */
const broken = (id: string) => ({ ...row(id, id), data: null as unknown as string });
const row = (id: string, name: string, etag = `W/"${name.length}"`) => ({ id, modified_on: '2026-01-01T00:00:00Z', etag, data: JSON.stringify({ id, name }) });

describe('sync repository', () => {
  it('writes only rows that changed, and counts them', async () => {
    const { commit, all } = await setup();
    expect(await commit({ rows: [row('a', 'A'), row('b', 'B')] })).toStrictEqual({ upserted: 2, deleted: 0, stale: false });
    expect(await commit({ rows: [row('a', 'A'), row('b', 'B2', 'W/"9"')] })).toStrictEqual({ upserted: 1, deleted: 0, stale: false });
    expect((await all()).map((r) => [r.id, JSON.parse(r.data.toString()).name])).toStrictEqual([
      ['a', 'A'],
      ['b', 'B2'],
    ]);
  });

  it('tombstones reported deletions once, and revives a row that comes back', async () => {
    const { commit, all } = await setup();
    await commit({ rows: [row('a', 'A'), row('b', 'B')] });
    expect(await commit({ deletedIds: ['a', 'unknown'] })).toStrictEqual({ upserted: 0, deleted: 1, stale: false });
    expect(await commit({ deletedIds: ['a'] })).toStrictEqual({ upserted: 0, deleted: 0, stale: false });
    expect((await all()).find((r) => r.id === 'a')?.deleted).toBe(1);
    expect(await commit({ rows: [row('a', 'A')] })).toStrictEqual({ upserted: 1, deleted: 0, stale: false });
    expect((await all()).find((r) => r.id === 'a')?.deleted).toBe(0);
  });

  it('a complete full run tombstones what it did not see, counting unchanged rows as seen', async () => {
    const { commit, all } = await setup();
    await commit({ rows: [row('a', 'A'), row('b', 'B'), row('c', 'C')] });
    await commit({ rows: [row('a', 'A')], seenRun: 5, position: { resume_link: 'next', cursor: null, run_kind: 'full', run_id: 5 } });
    expect(await commit({ rows: [row('c', 'C')], seenRun: 5, tombstoneUnseenOf: 5 })).toStrictEqual({ upserted: 0, deleted: 1, stale: false });
    expect((await all()).filter((r) => r.deleted).map((r) => r.id)).toStrictEqual(['b']);
  });

  it('stores the position with the page and moves the change sequence forward', async () => {
    const { commit, sync, rows } = await setup();
    await commit({ rows: [row('a', 'A')], position: { resume_link: 'next-1', cursor: null, run_kind: 'full', run_id: 1 } });
    expect(await sync.getState(T1)).toMatchObject({ resume_link: 'next-1', run_kind: 'full', run_id: 1 });
    const first = await rows.maxSeq(T1);
    await commit({ rows: [row('a', 'A2', 'W/"7"')], position: { resume_link: null, cursor: 'delta-2', run_kind: null, run_id: null } });
    expect(await sync.getState(T1)).toMatchObject({ resume_link: null, cursor: 'delta-2', run_kind: null });
    expect(await rows.maxSeq(T1)).toBeGreaterThan(first);
    expect((await rows.page({ table: T1, sinceSeq: first, afterKey: 0, limit: 10, includeDeleted: false })).map((r) => r.id)).toStrictEqual(['a']);
  });

  it('rolls back the whole page, position included, when a write fails', async () => {
    const { commit, sync, all } = await setup();
    // A row the store refuses (data is NOT NULL in both stores) fails the page after its first row was written.
    await expect(commit({ rows: [row('a', 'A'), broken('x')], position: { resume_link: 'after', cursor: null, run_kind: 'full', run_id: 1 } })).rejects.toThrow();
    expect((await all())).toStrictEqual([]);
    expect((await sync.getState(T1))?.resume_link).toBeNull();
  });

  it('refuses a commit read from another org than the one the table was reset to, and writes nothing of it', async () => {
    const { sync, commit, all } = await setup();
    await commit({ rows: [row('a', 'A')] });
    expect(await sync.reset({ tenant: 't1', connector: 'd365' }, 'https://org-b.crm.dynamics.com', 'moved to org-b', NOW)).toBe(1);
    expect(await commit({ rows: [row('b', 'B')], deletedIds: ['a'] })).toStrictEqual({ stale: true });
    expect((await all()).map((r) => [r.id, r.deleted])).toStrictEqual([['a', 0]]);
    expect(await sync.getState(T1)).toMatchObject({
      source: 'https://org-b.crm.dynamics.com',
      cursor: null,
      resume_link: null,
      run_kind: 'full',
      run_id: null,
      full_resyncs: 1,
      last_reset_reason: 'moved to org-b',
      last_reset_at: NOW,
    });
    expect(await commit({ source: 'https://org-b.crm.dynamics.com', rows: [row('b', 'B')] })).toStrictEqual({ upserted: 1, deleted: 0, stale: false });
  });

  it('counts refusals of a stored link until a poll succeeds', async () => {
    const { sync } = await setup();
    expect(await sync.recordLinkRefusal(T1)).toBe(1);
    expect(await sync.recordLinkRefusal(T1)).toBe(2);
    await sync.finishPoll(T1, { outcome: 'error', error: { code: 'x', message: 'x' }, now: NOW });
    expect((await sync.getState(T1))?.link_failures).toBe(2);
    await sync.finishPoll(T1, { outcome: 'ok', error: null, now: NOW });
    expect((await sync.getState(T1))?.link_failures).toBe(0);
  });
});

describe('table keys', () => {
  it('a page that rolls back on a table’s first commit never hands its key to another table', async () => {
    const { sync, rows } = await openTestStore();
    const acme = { tenant: 'acme', connector: 'bc', logical: 'customers' };
    const other = { tenant: 'other', connector: 'd365', logical: 'account' };
    const position = { resume_link: null, cursor: null, run_kind: null, run_id: null };
    for (const table of [acme, other]) await sync.startPoll(table, { mode: 'cursor', source: ORG, position, now: NOW });
    const commit = (table: typeof acme, page: Array<ReturnType<typeof row>>) =>
      sync.commitPage({ table, source: ORG, rows: page, deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: NOW });
    await expect(commit(acme, [broken('boom')])).rejects.toThrow();
    await commit(other, [row('b1', 'other')]);
    await commit(acme, [row('a2', 'acme')]);
    const ids = async (table: typeof acme) => (await rows.page({ table, sinceSeq: 0, afterKey: 0, limit: 10, includeDeleted: true })).map((r) => r.id);
    expect(await ids(other)).toStrictEqual(['b1']);
    expect(await ids(acme)).toStrictEqual(['a2']);
  });

  it('serves each row as the contract’s Row JSON, the same bytes as assembling it from the stored columns, for awkward ids too', async () => {
    const { commit, rows } = await setup();
    const awkward = ['plain', 'quote"back\\slash', 'tab\tnew\nline\u0001ctl', 'ünïcødé €', 'emoji 🧾'];
    await commit({ rows: [...awkward.map((id) => row(id, `name of ${id}`)), { id: 'no-date', modified_on: null, etag: null, data: '{"x":[1,2,{"y":null}]}' }] });
    await commit({ deletedIds: ['plain'] });
    const query = { table: T1, sinceSeq: 0, afterKey: 0, limit: 100, includeDeleted: true };
    const stored = await rows.page(query);
    const served = await rows.pageJson(query);
    expect(served.map((r) => r.json.toString())).toStrictEqual(stored.map((r) => rowJsonBytes(r).toString()));
    const parsed = served.map((r) => JSON.parse(r.json.toString()) as { id: string; modified_on: string | null; deleted: boolean; data: unknown });
    expect(parsed.map((r) => r.id)).toStrictEqual([...awkward, 'no-date']);
    expect(parsed[0]).toMatchObject({ deleted: true, modified_on: '2026-01-01T00:00:00Z' });
    expect(parsed.at(-1)).toStrictEqual({ id: 'no-date', modified_on: null, deleted: false, data: { x: [1, 2, { y: null }] } });
    const changes = { table: T1, afterSeq: 0, afterKey: Number.MAX_SAFE_INTEGER, upToSeq: await rows.maxSeq(T1), limit: 100, includeDeleted: false };
    expect((await rows.changesJson(changes)).map((r) => r.json.toString())).toStrictEqual((await rows.changes(changes)).map((r) => rowJsonBytes(r).toString()));
  });
});

