/**
 * `npx tsx bench/memory.ts [--sizes 100000,200000,1000000]` (a part of `npm run bench`): the hub's peak RSS over a
 * full poll as the table grows, side by side, with Node's defaults and with the old-space limit an operator can set
 * (NODE_OPTIONS=--max-old-space-size=256). A fresh hub process and database per poll, so each peak (Linux VmHWM
 * since the process started) is that poll's own. Rewrites the memory section of BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { buildHub, call, logger, peakMb, startHub, writeSection } from './lib.js';
import type { OrgSettings } from './token.js';

const { values: args } = parseArgs({ options: { sizes: { type: 'string', default: '100000,200000,1000000' }, out: { type: 'string', default: 'BENCHMARKS.md' } } });
const SIZES = args.sizes!.split(',').map(Number);
const TABLE = 'cr83d_benchmarkrow';
const VARIANTS: Array<{ label: string; nodeArgs: string[] }> = [
  { label: 'Node defaults', nodeArgs: [] },
  { label: '--max-old-space-size=256', nodeArgs: ['--max-old-space-size=256'] },
];
const log = logger('memory');
const work = mkdtempSync(join(tmpdir(), 'hub-bench-memory-'));

log('building the hub (npm run build)');
buildHub();
const results: Array<{ rows: number; label: string; rowsPerSec: number; peak: number }> = [];
try {
  for (const rows of SIZES) {
    log(`sandbox with ${rows.toLocaleString('en-US')} rows`);
    const certPath = join(work, `ca-${rows}.pem`);
    // The sandbox holds every row as text: a million of them need more than Node's default heap.
    const sandbox = spawn(process.execPath, ['--max-old-space-size=8192', '--import', 'tsx', 'bench/sandbox-server.ts', String(rows), certPath], { stdio: ['pipe', 'pipe', 'inherit'] });
    const org = JSON.parse((await createInterface({ input: sandbox.stdout! })[Symbol.asyncIterator]().next()).value as string) as OrgSettings;
    try {
      for (const [v, variant] of VARIANTS.entries()) {
        const hub = await startHub(
          {
            NODE_EXTRA_CA_CERTS: certPath,
            HUB_DB_PATH: join(work, `hub-${rows}-${v}.db`),
            SUBMISSION_DIR: join(work, 'out'),
            D365_ORG_URL: org.orgUrl,
            D365_TENANT_ID: org.tenantId,
            D365_CLIENT_ID: org.clientId,
            D365_CLIENT_SECRET: org.clientSecret,
            D365_AUTHORITY_HOST: org.authorityHost,
          },
          variant.nodeArgs,
        );
        try {
          await call(hub.base, 'POST', '/tenants/mem/connectors/d365/tables:register', { tables: [TABLE] });
          log(`${rows} rows, ${variant.label}: full poll`);
          const started = performance.now();
          const polled = await call(hub.base, 'POST', '/tenants/mem/connectors/d365:poll?force_full=true');
          const ms = performance.now() - started;
          if (polled.json.tables?.[0]?.upserted !== rows) throw new Error(`full poll answered ${JSON.stringify(polled.json)}`);
          results.push({ rows, label: variant.label, rowsPerSec: rows / (ms / 1000), peak: peakMb(hub.child.pid!) });
        } finally {
          await hub.stop();
          rmSync(join(work, `hub-${rows}-${v}.db`), { force: true });
        }
      }
    } finally {
      sandbox.stdin!.end();
      sandbox.kill('SIGTERM');
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const cell = (rows: number, label: string, what: 'peak' | 'rowsPerSec') => {
  const r = results.find((x) => x.rows === rows && x.label === label)!;
  return what === 'peak' ? `${r.peak} MB` : Math.round(r.rowsPerSec).toLocaleString('en-US');
};
writeSection(args.out!, 'memory', [
  '## Memory as the table grows',
  '',
  `Command: \`npx tsx bench/memory.ts --sizes ${SIZES.join(',')}\` (a part of \`npm run bench\`) · ${new Date().toISOString().slice(0, 10)}`,
  `A full poll of \`${TABLE}\` (about 40 columns, 5,000 rows per page) into a fresh SQLite store, one hub process per poll; peak RSS is the process's VmHWM since it started (start-up included), one poll per cell.`,
  '',
  `| hub process | ${SIZES.map((n) => `${n.toLocaleString('en-US')} rows: peak RSS`).join(' | ')} | ${SIZES.map((n) => `${n.toLocaleString('en-US')} rows: rows/s`).join(' | ')} |`,
  `|---|${SIZES.map(() => '---|').join('')}${SIZES.map(() => '---|').join('')}`,
  ...VARIANTS.map((v) => `| ${v.label} | ${SIZES.map((n) => cell(n, v.label, 'peak')).join(' | ')} | ${SIZES.map((n) => cell(n, v.label, 'rowsPerSec')).join(' | ')} |`),
]);
process.exit(0);
