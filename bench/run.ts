/**
 * `npm run bench [-- --rows 200000 --repeats 3 --profile]`: poll throughput and memory of the hub against the
 * transfer limit (bare undici) and a peer client (dynamics-web-api), alternating and repeated in one run, each
 * in its own process; peak RSS is that process's own. Writes BENCHMARKS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { buildHub, call, logger, median, peakMb, startHub as startHubProcess, writeSection } from './lib.js';
import type { OrgSettings } from './token.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    repeats: { type: 'string', default: '3' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: 'BENCHMARKS.md' },
    // `--store postgres`: the hub stores into PostgreSQL (a fresh schema per round of --pg-url's database).
    store: { type: 'string', default: 'sqlite' },
    'pg-url': { type: 'string', default: 'postgres://root@127.0.0.1:5432/test' },
  },
});
const ROWS = Number(args.rows);
const REPEATS = Number(args.repeats);
const TABLE = 'cr83d_benchmarkrow';
const EXPORT_MB = 50;
const work = mkdtempSync(join(tmpdir(), 'hub-bench-'));
const certPath = join(work, 'sandbox-ca.pem');
const http = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });

interface Sample { rowsPerSec?: number; mbPerSec?: number; ms: number; peakRssMb: number; startRssMb?: number; firstPageMs?: number }
const samples: Record<string, Sample[]> = {};
const record = (name: string, sample: Sample) => (samples[name] ??= []).push(sample);

const log = logger('run');

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function runClient(script: string, org: OrgSettings): Promise<{ rows: number; ms: number; peakRssMb: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(org)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await lines(child).next();
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(first.value as string);
}

/** Resident memory now, and the peak since the last reset (Linux VmHWM; reset through clear_refs), in MB. */
const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Without the right to reset, the figure is the process's peak since start (said in the report).
  }
}


/** The round's PostgreSQL schema (made on first use, dropped at the end), as a HUB_DATABASE_URL. */
function pgUrlFor(round: number): string {
  const schema = `hub_bench_${round}`;
  if (spawnSync('psql', [args['pg-url']!, '-q', '-c', `CREATE SCHEMA IF NOT EXISTS ${schema}`]).status !== 0) throw new Error(`cannot create schema ${schema}`);
  const url = new URL(args['pg-url']!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

function startHub(org: OrgSettings, round: number) {
  return startHubProcess(
    {
      NODE_EXTRA_CA_CERTS: certPath,
      HUB_DB_PATH: join(work, `hub-${round}.db`),
      ...(args.store === 'postgres' ? { HUB_DATABASE_URL: pgUrlFor(round) } : {}),
      SUBMISSION_DIR: join(work, `out-${round}`),
      HUB_BODY_LIMIT_MB: '100',
      D365_ORG_URL: org.orgUrl,
      D365_TENANT_ID: org.tenantId,
      D365_CLIENT_ID: org.clientId,
      D365_CLIENT_SECRET: org.clientSecret,
      D365_AUTHORITY_HOST: org.authorityHost,
    },
    args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(process.cwd(), 'bench', 'profiles')}`] : [],
  );
}

/** Runs one phase in a freshly started hub on the round's database, so the phase's peak RSS is its own. */
async function phase<T>(org: OrgSettings, round: number, work: (base: string) => Promise<T>): Promise<{ result: T; ms: number; peakRssMb: number; startRssMb: number }> {
  const hub = await startHub(org, round);
  try {
    const pid = hub.child.pid!;
    const startRssMb = rssMb(pid);
    resetPeak(pid);
    const started = performance.now();
    const result = await work(hub.base);
    return { result, ms: performance.now() - started, peakRssMb: peakMb(pid), startRssMb };
  } finally {
    await hub.stop();
  }
}

async function benchHub(org: OrgSettings, sandbox: ChildProcess, sandboxLines: AsyncIterator<string>, round: number): Promise<void> {
  const tenant = `bench${round}`;
  const register = await startHub(org, round);
  await call(register.base, 'POST', `/tenants/${tenant}/connectors/d365/tables:register`, { tables: [TABLE] });
  await register.stop();

  const full = await phase(org, round, (base) => call(base, 'POST', `/tenants/${tenant}/connectors/d365:poll?force_full=true`));
  const fullRows = full.result.json.tables[0].upserted as number;
  if (fullRows !== ROWS) throw new Error(`full poll wrote ${fullRows} rows, expected ${ROWS}: ${JSON.stringify(full.result.json)}`);
  record('hub full poll', { rowsPerSec: ROWS / (full.ms / 1000), ms: full.ms, peakRssMb: full.peakRssMb });

  const changed = Math.floor(ROWS / 100);
  const seqBefore = (await phase(org, round, (base) => call(base, 'GET', `/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=1`))).result.json.sync_seq as number;
  sandbox.stdin!.write(`update ${changed}\n`);
  await sandboxLines.next();
  // While the poll runs, a reader asks for the first changed row: when it appears, the first page is committed.
  const incremental = await phase(org, round, async (base) => {
    const started = performance.now();
    const poll = call(base, 'POST', `/tenants/${tenant}/connectors/d365:poll`);
    let firstPageMs: number | null = null;
    for (let done = false; !done && firstPageMs === null; ) {
      const probe = await call(base, 'GET', `/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=1&changed_since=${seqBefore}`);
      if (probe.json.rows?.length) firstPageMs = performance.now() - started;
      else done = await Promise.race([poll.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5))]);
    }
    return { polled: await poll, firstPageMs: firstPageMs ?? performance.now() - started };
  });
  const incRows = incremental.result.polled.json.tables[0].upserted as number;
  if (incRows !== changed) throw new Error(`incremental poll wrote ${incRows} rows, expected ${changed}`);
  record('hub incremental poll (1 %)', { rowsPerSec: changed / (incremental.ms / 1000), ms: incremental.ms, peakRssMb: incremental.peakRssMb, firstPageMs: incremental.result.firstPageMs });

  // Like a consumer that stores pages as they come, the driver keeps each page as bytes and reads only the
  // cursor (at the end) and a row count from it.
  const ROW_START = Buffer.from('{"id":');
  const paged = await phase(org, round, async (base) => {
    let cursor: string | null = null;
    let count = 0;
    do {
      const res = await request(`${base}/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=5000${cursor ? `&cursor=${cursor}` : ''}`, { dispatcher: http });
      const page = Buffer.from(await res.body.arrayBuffer());
      for (let at = page.indexOf(ROW_START); at !== -1; at = page.indexOf(ROW_START, at + ROW_START.length)) count++;
      cursor = JSON.parse(/"next_cursor":(null|"[^"]*")/.exec(page.subarray(-512).toString())![1]!) as string | null;
    } while (cursor);
    return count;
  });
  if (paged.result !== ROWS) throw new Error(`rows API returned ${paged.result} rows`);
  record('rows API (limit=5000)', { rowsPerSec: ROWS / (paged.ms / 1000), ms: paged.ms, peakRssMb: paged.peakRssMb });

  // The incremental poll's changes, read back as a consumer following rows.changed would (one walk of changed_since).
  const changes = await phase(org, round, async (base) => {
    let count = 0;
    let next: string | null = `changed_since=${seqBefore}`;
    while (next) {
      const res = await request(`${base}/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=5000&${next}`, { dispatcher: http });
      const page = (await res.body.json()) as { rows: unknown[]; next_cursor: string | null };
      count += page.rows.length;
      next = page.next_cursor ? `cursor=${page.next_cursor}` : null;
    }
    return count;
  });
  if (changes.result !== changed) throw new Error(`changed_since returned ${changes.result} rows, expected ${changed}`);
  record('rows API changed_since (1 % of the table)', { rowsPerSec: changed / (changes.ms / 1000), ms: changes.ms, peakRssMb: changes.peakRssMb });

  const attachments = Array.from({ length: 5 }, (_, i) => ({
    filename: `blob-${i}.bin`,
    content_type: 'application/octet-stream',
    content_base64: randomBytes((EXPORT_MB / 5) * 1024 * 1024).toString('base64'),
  }));
  const exported = await phase(org, round, (base) =>
    call(base, 'POST', `/tenants/${tenant}/connectors/d365/submit`, { submission_package_id: `bench-${round}`, route: 'local', answers: { round }, attachments }),
  );
  if (exported.result.status !== 200) throw new Error(`export answered ${exported.result.status}: ${JSON.stringify(exported.result.json)}`);
  record(`export ${EXPORT_MB} MB to local`, { mbPerSec: EXPORT_MB / (exported.ms / 1000), ms: exported.ms, peakRssMb: exported.peakRssMb, startRssMb: exported.startRssMb });
}

const spread = (xs: number[]) => `${Math.round(Math.min(...xs)).toLocaleString('en-US')}–${Math.round(Math.max(...xs)).toLocaleString('en-US')}`;

log('building the hub (npm run build)');
buildHub();
log(`starting the sandbox with ${ROWS.toLocaleString('en-US')} rows`);
const sandbox = spawn(process.execPath, ['--import', 'tsx', 'bench/sandbox-server.ts', String(ROWS), certPath], { stdio: ['pipe', 'pipe', 'inherit'] });
const sandboxLines = lines(sandbox);
const org = JSON.parse((await sandboxLines.next()).value as string) as OrgSettings;

try {
  for (let round = 1; round <= REPEATS; round++) {
    log(`round ${round}/${REPEATS}: limit`);
    const limit = await runClient('bench/limit-client.ts', org);
    record('limit (bare undici)', { rowsPerSec: limit.rows / (limit.ms / 1000), ms: limit.ms, peakRssMb: limit.peakRssMb });
    log(`round ${round}/${REPEATS}: peer`);
    const peer = await runClient('bench/peer-client.ts', org);
    record('peer (dynamics-web-api retrieveAll)', { rowsPerSec: peer.rows / (peer.ms / 1000), ms: peer.ms, peakRssMb: peer.peakRssMb });
    log(`round ${round}/${REPEATS}: hub`);
    await benchHub(org, sandbox, sandboxLines, round);
  }
} finally {
  sandbox.stdin!.end();
  sandbox.kill('SIGTERM');
  await http.close();
  rmSync(work, { recursive: true, force: true });
  if (args.store === 'postgres') for (let round = 1; round <= REPEATS; round++) spawnSync('psql', [args['pg-url']!, '-q', '-c', `DROP SCHEMA IF EXISTS hub_bench_${round} CASCADE`]);
}

const rowsPerSec = (name: string) => median(samples[name]!.map((s) => s.rowsPerSec!));
const ratio = (a: string, b: string) => (rowsPerSec(a) / rowsPerSec(b)).toFixed(2);
const exportSamples = samples[`export ${EXPORT_MB} MB to local`]!;
const table = [
  '| measurement | throughput (median, range) | wall time ms (median) | peak RSS MB of the working process (median, max) |',
  '|---|---|---|---|',
  ...Object.entries(samples).map(([name, s]) => {
    const rate = s[0]!.rowsPerSec !== undefined ? s.map((x) => x.rowsPerSec!) : s.map((x) => x.mbPerSec!);
    const unit = s[0]!.rowsPerSec !== undefined ? 'rows/s' : 'MB/s';
    return `| ${name} | ${Math.round(median(rate)).toLocaleString('en-US')} ${unit} (${spread(rate)}) | ${Math.round(median(s.map((x) => x.ms))).toLocaleString('en-US')} | ${median(s.map((x) => x.peakRssMb))} (${Math.max(...s.map((x) => x.peakRssMb))}) |`;
  }),
  '',
  `- hub full poll / limit: **${ratio('hub full poll', 'limit (bare undici)')}×** (target ≥ 0.8); per round: ${samples['hub full poll']!.map((h, i) => (h.rowsPerSec! / samples['limit (bare undici)']![i]!.rowsPerSec!).toFixed(2)).join(', ')}`,
  `- hub full poll / peer: **${ratio('hub full poll', 'peer (dynamics-web-api retrieveAll)')}×** (target ≥ 1.5); per round: ${samples['hub full poll']!.map((h, i) => (h.rowsPerSec! / samples['peer (dynamics-web-api retrieveAll)']![i]!.rowsPerSec!).toFixed(2)).join(', ')}`,
  `- rows API: **${Math.round(rowsPerSec('rows API (limit=5000)')).toLocaleString('en-US')} rows/s** (target ≥ 100,000)`,
  `- incremental poll of 1 %: first page committed after **${Math.round(median(samples['hub incremental poll (1 %)']!.map((s) => s.firstPageMs!)))} ms** (median; ${samples['hub incremental poll (1 %)']!.map((s) => Math.round(s.firstPageMs!)).join(', ')})`,
  `- export: **${median(exportSamples.map((s) => s.mbPerSec!)).toFixed(1)} MB/s** (target ≥ 40); the hub's RSS went from ${median(exportSamples.map((s) => s.startRssMb!))} MB at the start of the request to a peak of ${median(exportSamples.map((s) => s.peakRssMb))} MB: **+${median(exportSamples.map((s) => s.peakRssMb - s.startRssMb!))} MB** for a ${EXPORT_MB} MB package (target ≤ 2 × the package)`,
];
const cpu = cpus();
writeSection(args.out!, `run-${args.store}`, [
  `## Full poll, incremental poll, rows API and export (${args.store === 'postgres' ? 'PostgreSQL' : 'SQLite'} store)`,
  '',
  `Command: \`npx tsx bench/run.ts --rows ${ROWS} --repeats ${REPEATS}${args.store === 'postgres' ? ' --store postgres' : ''}\`${args.store === 'postgres' ? '' : ' (the first part of `npm run bench`)'} · ${new Date().toISOString().slice(0, 10)}`,
  `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}.`,
  `Table \`${TABLE}\`: ${ROWS.toLocaleString('en-US')} rows of about 40 columns, 5,000 rows per page, sandbox over HTTPS on loopback in its own process.`,
  'Each round runs limit, peer and hub one after another (alternating), on a fresh hub database; each hub phase in a hub process of its own (`node dist/main.js`); figures are medians over the rounds with the range.',
  '',
  ...table,
]);
process.exit(0);
