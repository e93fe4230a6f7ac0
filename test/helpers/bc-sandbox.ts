import type { FastifyInstance } from 'fastify';
import type { Config } from '../../src/config.js';
import { expect, onTestFinished } from 'vitest';
import { bcSandboxEnv, startBcSandbox, type BcSandbox, type BcSandboxOptions } from '../../src/sandbox/bc/index.js';
import { buildTestApp } from './build-test-app.js';
import type { StoredRowView } from './stored-rows.js';

/** A fresh Business Central sandbox (Entra ID + API v2.0 over HTTPS on 127.0.0.1), closed when the test ends. */
export async function startTestBcSandbox(options: BcSandboxOptions = {}): Promise<BcSandbox> {
  const sandbox = await startBcSandbox(options);
  onTestFinished(() => sandbox.close());
  return sandbox;
}

/** The BC_* variables of a default connection to this sandbox's first company. */
export const bcEnv = bcSandboxEnv;

/** The hub with the BC sandbox as its default BC connection, trusting its certificate (and those of `alsoTrusted`). */
export async function buildHubOnBc(sandbox: BcSandbox, env: Record<string, string | undefined> = {}, alsoTrusted: string[] = []): Promise<{ app: FastifyInstance; config: Config }> {
  const { app, config } = await buildTestApp({ ...bcEnv(sandbox), BC_PAGE_SIZE: '7', ...env }, { extraCa: [sandbox.caPem, ...alsoTrusted], retryDelays: { baseDelayMs: 20, maxDelayMs: 200 } });
  return { app, config };
}

/** The store mirrors the sandbox set exactly: every row with its columns as BC sent them (etag aside), nothing else live. */
export function expectBcMirror(stored: Map<string, StoredRowView>, sandbox: BcSandbox, set: string, companyId = sandbox.companyId): void {
  const upstream = sandbox.data.rows(companyId, set);
  expect([...stored.values()].filter((r) => r.deleted === 0)).toHaveLength(upstream.length);
  for (const row of upstream) {
    const mine = stored.get(String(row.id));
    expect(mine?.deleted, `row ${String(row.id)}`).toBe(0);
    expect(JSON.parse(mine!.data)).toStrictEqual(row);
  }
}
