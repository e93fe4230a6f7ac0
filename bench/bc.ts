/**
 * `npm run bench` (second part) or `npx tsx bench/bc.ts [--rows 100000 --repeats 3]`: a full poll of a Business
 * Central set through the BC connector (production build, its own process) from the BC sandbox (its own process):
 * wall time, rows/s and the hub's peak RSS (Linux VmHWM). Rewrites the BC section of BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { buildHub, call, logger, median, peakMb, startHub, writeSection } from './lib.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, repeats: { type: 'string', default: '3' }, out: { type: 'string', default: 'BENCHMARKS.md' } } });
const ROWS = Number(args.rows);
const REPEATS = Number(args.repeats);
const work = mkdtempSync(join(tmpdir(), 'hub-bench-bc-'));
const certPath = join(work, 'bc-ca.pem');
const log = logger('bc');

log('building the hub (npm run build)');
buildHub();
log(`starting the BC sandbox with ${ROWS.toLocaleString('en-US')} customers`);
const sandbox = spawn(process.execPath, ['--import', 'tsx', 'bench/bc-sandbox-server.ts', String(ROWS), certPath], { stdio: ['pipe', 'pipe', 'inherit'] });
const bc = JSON.parse((await createInterface({ input: sandbox.stdout! })[Symbol.asyncIterator]().next()).value as string) as Record<string, string>;

const samples: Array<{ ms: number; rss: number }> = [];
try {
  for (let round = 1; round <= REPEATS; round++) {
    log(`round ${round}/${REPEATS}`);
    const { child, base, stop } = await startHub({ NODE_EXTRA_CA_CERTS: certPath, HUB_DB_PATH: join(work, `hub-${round}.db`), BC_PAGE_SIZE: '5000', ...bc });
    await call(base, 'POST', '/tenants/bench/connectors/bc/tables:register', { tables: ['customers'] });
    const started = performance.now();
    const polled = await call(base, 'POST', '/tenants/bench/connectors/bc:poll?force_full=true');
    const ms = performance.now() - started;
    if (polled.json.tables?.[0]?.upserted !== ROWS) throw new Error(`full poll answered ${JSON.stringify(polled.json)}`);
    samples.push({ ms, rss: peakMb(child.pid!) });
    await stop();
  }
} finally {
  sandbox.stdin!.end();
  sandbox.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

const ms = median(samples.map((s) => s.ms));
writeSection(args.out!, 'bc', [
  '## Business Central connector',
  '',
  `Command: \`npx tsx bench/bc.ts --rows ${ROWS} --repeats ${REPEATS}\` (also the second part of \`npm run bench\`) · ${new Date().toISOString().slice(0, 10)}`,
  `Set \`customers\` of the BC sandbox (its own process, HTTPS on loopback): ${ROWS.toLocaleString('en-US')} rows of 12 columns, 5 % stamped 0001-01-01, 5,000 rows per page, BC_MAX_CONCURRENCY 5; hub \`node dist/main.js\` with a fresh database per round.`,
  '',
  '| measurement | rows/s (median, range) | wall time ms (median) | peak RSS MB of the hub process since its start (median, max) |',
  '|---|---|---|---|',
  `| BC full poll (force_full) | ${Math.round(ROWS / (ms / 1000)).toLocaleString('en-US')} (${Math.round(ROWS / (Math.max(...samples.map((s) => s.ms)) / 1000)).toLocaleString('en-US')}–${Math.round(ROWS / (Math.min(...samples.map((s) => s.ms)) / 1000)).toLocaleString('en-US')}) | ${Math.round(ms).toLocaleString('en-US')} | ${median(samples.map((s) => s.rss))} (${Math.max(...samples.map((s) => s.rss))}) |`,
]);
process.exit(0);
