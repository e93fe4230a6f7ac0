/**
 * The sandbox as its own process for the benchmark, so its CPU and memory are not the hub's or the driver's.
 * Seeds `cr83d_benchmarkrow`, prints one JSON line with its addresses, then obeys stdin lines:
 * `update <n>` changes n rows spread over the table and answers `updated <n>`.
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startSandbox } from '../src/sandbox/index.js';

const TABLE = 'cr83d_benchmarkrow';
const [rowsArg, certPath] = process.argv.slice(2);
const rows = Number(rowsArg);
const sandbox = await startSandbox({ sampleData: false, tokenLifetimeSeconds: 3599 });
sandbox.data.seedTable(TABLE, rows, { seed: 1 });
writeFileSync(certPath!, sandbox.caPem);
process.stdout.write(
  `${JSON.stringify({ orgUrl: sandbox.orgUrl, authorityHost: sandbox.authorityHost, tenantId: sandbox.tenantId, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret })}\n`,
);

let round = 0;
for await (const line of createInterface({ input: process.stdin })) {
  const [command, count] = line.trim().split(' ');
  if (command !== 'update') continue;
  round++;
  const all = sandbox.data.rows(TABLE);
  const n = Number(count);
  const step = Math.max(1, Math.floor(all.length / n));
  let done = 0;
  for (let i = 0; i < all.length && done < n; i += step, done++) {
    sandbox.data.updateRow(TABLE, String(all[i]!.cr83d_benchmarkrowid), { cr83d_name: `changed in round ${round}` });
  }
  process.stdout.write(`updated ${done}\n`);
}
await sandbox.close();
