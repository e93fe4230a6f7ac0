/**
 * `npm run demo`: the built-in Dataverse and Business Central sandboxes plus the production hub (`src/main.ts`) wired to them, so the
 * README's demo flow works with no Microsoft account. The hub runs as its own process exactly as `npm start`
 * runs it; only its environment points it at the sandbox and trusts the sandbox's certificate.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readEnvironment } from '../config.js';
import { bcSandboxEnv, startBcSandbox } from './bc/index.js';
import { startDemoReceiver } from './demo-receiver.js';
import { startSandbox } from './index.js';

const env = readEnvironment();
const sandbox = await startSandbox();
const bc = await startBcSandbox();
const receiver = await startDemoReceiver();
const dbPath = env.HUB_DB_PATH ?? './data/demo.db';
// The sandbox's certificate and URL live next to the demo's database.
const dataDir = resolve(dirname(dbPath));
const certPath = join(dataDir, 'sandbox-ca.pem');
mkdirSync(dataDir, { recursive: true });
// The sandboxes' and the receiver's certificates in one bundle: NODE_EXTRA_CA_CERTS names one file.
writeFileSync(certPath, `${sandbox.caPem}\n${bc.caPem}\n${receiver.caPem}`);
writeFileSync(join(dataDir, 'sandbox-url'), sandbox.orgUrl);
writeFileSync(join(dataDir, 'bc-sandbox-url'), bc.apiUrl);
writeFileSync(join(dataDir, 'demo-receiver-url'), receiver.url);

const hubEnv: Record<string, string> = {
  HUB_HOST: env.HUB_HOST ?? '127.0.0.1',
  HUB_PORT: env.HUB_PORT ?? '8080',
  HUB_DB_PATH: dbPath,
  // A fixed, public demo key: the demo stores only sandbox credentials.
  HUB_SECRET_KEY: env.HUB_SECRET_KEY ?? 'demo-only-secret-key-not-for-production-use',
  D365_ORG_URL: sandbox.orgUrl,
  D365_TENANT_ID: sandbox.tenantId,
  D365_CLIENT_ID: sandbox.clientId,
  D365_CLIENT_SECRET: sandbox.clientSecret,
  D365_AUTHORITY_HOST: sandbox.authorityHost,
  ...bcSandboxEnv(bc),
  // The demo receiver listens on 127.0.0.1, which destinations may not reach in production.
  DESTINATIONS_ALLOW_PRIVATE_NETWORKS: 'true',
  NODE_EXTRA_CA_CERTS: certPath,
};
const hubUrl = `http://${hubEnv.HUB_HOST === '0.0.0.0' ? '127.0.0.1' : hubEnv.HUB_HOST}:${hubEnv.HUB_PORT}`;

process.stdout.write(
  [
    '',
    'Dataverse and Business Central sandboxes are up (Entra ID + Web API v9.2, Entra ID + BC API v2.0, HTTPS on 127.0.0.1). Hub environment:',
    ...Object.entries(hubEnv).map(([k, v]) => `  ${k}=${k.includes('SECRET') ? '<demo value>' : v}`),
    '',
    `Hub: ${hubUrl}   ready-made tenant: demo   sandbox admin API: ${sandbox.orgUrl}/_sandbox/tables`,
    `Try: curl -s -X POST ${hubUrl}/tenants/demo/connectors/d365:test`,
    `     curl -s -X POST ${hubUrl}/tenants/demo/connectors/bc:test`,
    `Demo webhook receiver: ${receiver.url}   (what it received: curl -sk ${new URL(receiver.url).origin}/_receiver/events)`,
    '',
  ].join('\n'),
);

const hub = spawn(process.execPath, ['--import', 'tsx', resolve('src/main.ts')], {
  env: { ...process.env, ...hubEnv },
  stdio: 'inherit',
});

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  hub.kill(signal);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
hub.on('exit', async (code) => {
  await Promise.all([sandbox.close(), bc.close(), receiver.close()]);
  process.exit(code ?? 0);
});
