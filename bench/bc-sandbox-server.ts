/**
 * The Business Central sandbox as its own process for the benchmark: seeds `customers` of the first company with
 * N rows, writes its certificate, prints one JSON line with the BC_* settings, and runs until stdin closes.
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { bcSandboxEnv, startBcSandbox } from '../src/sandbox/bc/index.js';

const [rowsArg, certPath] = process.argv.slice(2);
const sandbox = await startBcSandbox({ sampleData: false });
sandbox.data.seedSet(sandbox.companyId, 'customers', Number(rowsArg), { seed: 1, blankStampShare: 0.05 });
writeFileSync(certPath!, sandbox.caPem);
process.stdout.write(`${JSON.stringify(bcSandboxEnv(sandbox))}\n`);
for await (const _line of createInterface({ input: process.stdin })) {
  // Nothing to obey: the benchmark only reads.
}
await sandbox.close();
