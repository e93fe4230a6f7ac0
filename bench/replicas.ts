/**
 * `npx tsx bench/replicas.ts [--tenants 50 --rows 5000 --processes 1,2]`: several hub processes (production build)
 * on one PostgreSQL database share the scheduled first polls of `tenants` × 4 Business Central sets of `rows` rows
 * each (BC sandbox in its own process). Reports the total rows/s until every table has been polled once, per process
 * count. Writes the replicas section of BENCHMARKS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { request } from 'undici';
import { freePort } from '../scripts/free-port.js';

const { values: args } = parseArgs({
  options: {
    tenants: { type: 'string', default: '50' },
    rows: { type: 'string', default: '5000' },
    processes: { type: 'string', default: '1,2' },
    'pg-url': { type: 'string', default: 'postgres://root@127.0.0.1:5432/test' },
    out: { type: 'string', default: 'BENCHMARKS.md' },
  },
});
const TENANTS = Number(args.tenants);
const ROWS = Number(args.rows);
const SETS = ['customers', 'vendors', 'items', 'salesInvoices'];
const work = mkdtempSync(join(tmpdir(), 'hub-bench-replicas-'));
const certPath = join(work, 'bc-ca.pem');
const log = (message: string) => process.stderr.write(`[bench:replicas] ${message}\n`);

async function startHub(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], { env: { PATH: process.env.PATH ?? '', HUB_HOST: '127.0.0.1', HUB_PORT: String(port), ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (await request(`${base}/health`).then((r) => (r.body.dump(), r.statusCode === 200), () => false)) return { child, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('hub did not start');
}

log('building the hub (npm run build)');
if (spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
// The standard sets with ROWS rows each in the first company.
const sandbox = spawn(process.execPath, ['--import', 'tsx', '-e', `
  const { startBcSandbox, bcSandboxEnv } = await import('./src/sandbox/bc/index.ts');
  const { writeFileSync } = await import('node:fs');
  const s = await startBcSandbox({ sampleData: false });
  for (const set of ${JSON.stringify(SETS)}) s.data.seedSet(s.companyId, set, ${ROWS}, { seed: set.length });
  writeFileSync(${JSON.stringify(certPath)}, s.caPem);
  process.stdout.write(JSON.stringify(bcSandboxEnv(s)) + '\\n');
  process.stdin.resume();
  process.stdin.on('end', () => s.close().then(() => process.exit(0)));
`], { stdio: ['pipe', 'pipe', 'inherit'] });
const bc = JSON.parse((await createInterface({ input: sandbox.stdout! })[Symbol.asyncIterator]().next()).value as string) as Record<string, string>;

const results: Array<{ processes: number; ms: number; rows: number }> = [];
try {
  for (const count of args.processes!.split(',').map(Number)) {
    const schema = `hub_bench_replicas_${count}`;
    const admin = new pg.Client({ connectionString: args['pg-url'] });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_boss CASCADE; CREATE SCHEMA ${schema}`);
    const url = new URL(args['pg-url']!);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const env = { ...bc, NODE_EXTRA_CA_CERTS: certPath, HUB_DATABASE_URL: url.toString(), HUB_RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn', BC_PAGE_SIZE: '5000', BC_MAX_CONCURRENCY: '8', POLL_CONCURRENCY: '4', POLL_INTERVAL_SECONDS: '3600' };
    // Registered through one process before the others start, so the schedule begins for all at once.
    const first = await startHub(env);
    for (let t = 0; t < TENANTS; t++) {
      const res = await request(`${first.base}/tenants/t${t}/connectors/bc/tables:register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tables: SETS }) });
      await res.body.dump();
    }
    log(`${count} process(es): ${TENANTS * SETS.length} tables of ${ROWS} rows`);
    const started = performance.now();
    const others = await Promise.all(Array.from({ length: count - 1 }, () => startHub(env)));
    for (;;) {
      const { rows } = await admin.query<{ done: string }>(`SELECT COUNT(*) AS done FROM ${schema}.sync_state WHERE last_outcome = 'ok'`);
      if (Number(rows[0]!.done) >= TENANTS * SETS.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const ms = performance.now() - started;
    const { rows } = await admin.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.rows`);
    results.push({ processes: count, ms, rows: Number(rows[0]!.n) });
    for (const hub of [first, ...others]) hub.child.kill('SIGTERM');
    await Promise.all([first, ...others].map((h) => new Promise((resolve) => h.child.on('exit', resolve))));
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_boss CASCADE`);
    await admin.end();
  }
} finally {
  sandbox.stdin!.end();
  rmSync(work, { recursive: true, force: true });
}

const section = [
  '<!-- replicas:start -->',
  '## Several processes on PostgreSQL',
  '',
  `Command: \`npx tsx bench/replicas.ts --tenants ${TENANTS} --rows ${ROWS} --processes ${args.processes}\` · ${new Date().toISOString().slice(0, 10)}`,
  `${TENANTS} tenants × ${SETS.length} BC sets (${SETS.join(', ')}) of ${ROWS.toLocaleString('en-US')} rows, first scheduled polls shared out through pg-boss; PostgreSQL 15 and the BC sandbox on the same 2-core machine; POLL_CONCURRENCY 4 per process.`,
  '',
  '| processes | rows stored | wall time ms | total rows/s |',
  '|---|---|---|---|',
  ...results.map((r) => `| ${r.processes} | ${r.rows.toLocaleString('en-US')} | ${Math.round(r.ms).toLocaleString('en-US')} | ${Math.round(r.rows / (r.ms / 1000)).toLocaleString('en-US')} |`),
  '<!-- replicas:end -->',
].join('\n');
process.stdout.write(`\n${section}\n`);
const previous = existsSync(args.out!) ? readFileSync(args.out!, 'utf8') : '';
writeFileSync(args.out!, previous.includes('<!-- replicas:start -->') ? previous.replace(/<!-- replicas:start -->[\s\S]*<!-- replicas:end -->/, section) : `${previous.trimEnd()}\n\n${section}\n`);
process.exit(0);
