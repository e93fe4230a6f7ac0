import type { FastifyInstance } from 'fastify';
import { onTestFinished } from 'vitest';
import { startSandbox, type DataverseEndpoint, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { buildTestApp } from './build-test-app.js';
import { hubClient } from './hub-client.js';

/** A fresh Dataverse sandbox (Entra ID + Web API over HTTPS on 127.0.0.1), closed when the test ends. */
export async function startTestSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sandbox = await startSandbox(options);
  onTestFinished(() => sandbox.close());
  return sandbox;
}

/** The D365_* variables of a default connection to this endpoint. */
export function sandboxEnv(sandbox: DataverseEndpoint): Record<string, string> {
  return {
    D365_ORG_URL: sandbox.orgUrl,
    D365_TENANT_ID: sandbox.tenantId,
    D365_CLIENT_ID: sandbox.clientId,
    D365_CLIENT_SECRET: sandbox.clientSecret,
    D365_AUTHORITY_HOST: sandbox.authorityHost,
  };
}

/** The org and Entra hosts (with their ports) of sandboxes, as D365_ALLOWED_HOSTS names them. */
export const sandboxHosts = (sandboxes: Sandbox[]) => sandboxes.flatMap((s) => [new URL(s.orgUrl).host, new URL(s.authorityHost).host]).join(',');

/**
 * The hub wired to the sandbox as its default connection, trusting the sandbox's certificate; tenants may
 * point their own connections at the `alsoTrusted` sandboxes (their hosts are allowed).
 */
export async function buildHubOnSandbox(
  sandbox: Sandbox,
  env: Record<string, string | undefined> = {},
  alsoTrusted: Sandbox[] = [],
  extraCa: string[] = [],
): Promise<{ app: FastifyInstance; sandbox: Sandbox }> {
  const { app } = await buildTestApp(
    { ...sandboxEnv(sandbox), ...(alsoTrusted.length ? { D365_ALLOWED_HOSTS: sandboxHosts(alsoTrusted) } : {}), ...env },
    { extraCa: [...[sandbox, ...alsoTrusted].map((s) => s.caPem), ...extraCa], retryDelays: { baseDelayMs: 20, maxDelayMs: 200 } },
  );
  return { app, sandbox };
}

/** A fresh sandbox (its sample data) and a hub on it with `tables` registered for tenant acme. */
export async function acmeWithTables(tables: string[], env: Record<string, string> = {}) {
  const sandbox = await startTestSandbox();
  const { app } = await buildHubOnSandbox(sandbox, env);
  const hub = hubClient(app, 'acme');
  await hub.register(tables);
  return { sandbox, app, hub };
}
