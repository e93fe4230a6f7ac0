/**
 * The Business Central sandbox as its own process for the benchmark: seeds `customers` of the first company with
 * N rows, writes its certificate, prints one JSON line with the BC_* settings, and runs until stdin closes.
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startBcSandbox } from '../src/sandbox/bc/index.js';

const [rowsArg, certPath] = process.argv.slice(2);
const sandbox = await startBcSandbox({ sampleData: false });
sandbox.data.seedSet(sandbox.companyId, 'customers', Number(rowsArg), { seed: 1, blankStampShare: 0.05 });
writeFileSync(certPath!, sandbox.caPem);
process.stdout.write(
  `${JSON.stringify({
    BC_TENANT_ID: sandbox.tenantId,
    BC_CLIENT_ID: sandbox.clientId,
    BC_CLIENT_SECRET: sandbox.clientSecret,
    BC_ENVIRONMENT: sandbox.environment,
    BC_COMPANY_ID: sandbox.companyId,
    BC_API_URL: sandbox.apiUrl,
    BC_AUTHORITY_HOST: sandbox.authorityHost,
  })}\n`,
);
for await (const _line of createInterface({ input: process.stdin })) {
  // Nothing to obey: the benchmark only reads.
}
await sandbox.close();
