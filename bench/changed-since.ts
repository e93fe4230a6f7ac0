/**
 * `npx tsx bench/changed-since.ts`: a changed_since read of 2 000 changed rows (1 %) of a 200 000-row table in an
 * SQLite store, the way reads went before (rows in row_key order, filtered by seq: a scan of the table) and now (one
 * range of the (seq, row_key) index per page), each walked 5 times, medians. Store level, no HTTP.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../src/store/sqlite-store.js';

const N = 200_000;
const store = createSqliteStore(join(mkdtempSync(join(tmpdir(), 'ab-')), 'hub.db'));
const table = { tenant: 't', connector: 'd365', logical: 'x' };
const position = { resume_link: null, cursor: null, run_kind: null, run_id: null };
await store.sync.startPoll(table, { mode: 'delta', source: 's', position, now: '2026-01-01T00:00:00Z' });
const data = (i: number, v: string) => JSON.stringify({ id: i, name: `row ${i} ${v}`, pad: 'x'.repeat(300) });
for (let p = 0; p < N / 5000; p++) {
  const rows = Array.from({ length: 5000 }, (_, j) => { const i = p * 5000 + j; return { id: String(i), modified_on: null, etag: 'a', data: data(i, 'a') }; });
  await store.sync.commitPage({ table, source: 's', rows, deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: '2026-01-01T00:00:00Z' });
}
const before = await store.rows.maxSeq(table);
const changedRows = Array.from({ length: N / 100 }, (_, j) => { const i = j * 100; return { id: String(i), modified_on: null, etag: 'b', data: data(i, 'b') }; });
await store.sync.commitPage({ table, source: 's', rows: changedRows, deletedIds: [], seenRun: null, tombstoneUnseenOf: null, position, now: '2026-01-01T00:00:00Z' });
const h = await store.rows.maxSeq(table);

async function oldWalk(limit: number) {
  let afterKey = 0, count = 0;
  for (;;) { const rows = await store.rows.page({ table, sinceSeq: before, afterKey, limit, includeDeleted: false }); count += rows.length; if (rows.length < limit) return count; afterKey = rows.at(-1)!.row_key; }
}
async function newWalk(limit: number) {
  let afterSeq = before, afterKey = Number.MAX_SAFE_INTEGER, count = 0;
  for (;;) { const rows = await store.rows.changes({ table, afterSeq, afterKey, upToSeq: h, limit, includeDeleted: false }); count += rows.length; if (rows.length < limit) return count; afterSeq = rows.at(-1)!.seq; afterKey = rows.at(-1)!.row_key; }
}
for (const limit of [5000, 100]) {
  for (const [name, walk] of [['row_key scan (before)', oldWalk], ['change index (after)', newWalk]] as const) {
    const times: number[] = [];
    let count = 0;
    for (let r = 0; r < 5; r++) { const t = performance.now(); count = await walk(limit); times.push(performance.now() - t); }
    times.sort((a, b) => a - b);
    console.log(`limit=${limit} ${name}: ${count} rows, median ${times[2]!.toFixed(1)} ms (${times.map((x) => x.toFixed(1)).join(', ')})`);
  }
}
await store.close();
