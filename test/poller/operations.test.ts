import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { tempDir } from '../helpers/build-test-app.js';
import { hubClient } from '../helpers/hub-client.js';
import { buildHubOnSandbox, startTestSandbox } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/wait.js';

/** Prometheus text → { 'name{labels}': value }. */
function parseExposition(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

describe('operations against the sandbox', () => {
  it('exposes D365, token, poll, freshness and submission series', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const hub = hubClient(app, 'acme');
    await hub.register(['account']);
    sandbox.faults.add({ status: 429, times: 1, retryAfterSeconds: 1, path: /accounts/ });
    await hub.poll();
    await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365/submit', payload: { submission_package_id: 'm1', route: 'local', answers: {} } });

    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const series = parseExposition(text);
    const org = new URL(sandbox.orgUrl).host;
    const rows = sandbox.data.rows('account').length;
    expect(series.get(`hub_upstream_requests_total{connector="d365",org="${org}",status="200"}`)).toBeGreaterThanOrEqual(2);
    expect(series.get(`hub_upstream_requests_total{connector="d365",org="${org}",status="429"}`)).toBe(1);
    expect(series.get(`hub_upstream_throttled_total{connector="d365",org="${org}"}`)).toBe(1);
    expect(series.get(`hub_upstream_throttle_wait_seconds_total{connector="d365",org="${org}"}`)).toBe(1);
    expect(series.get(`hub_token_acquisitions_total{authority="${new URL(sandbox.authorityHost).host}",outcome="ok"}`)).toBe(1);
    expect(series.get('hub_rows_upserted_total{tenant="acme",connector="d365",table="account"}')).toBe(rows);
    expect(series.get('hub_rows_deleted_total{tenant="acme",connector="d365",table="account"}')).toBe(0);
    expect(series.get('hub_poll_duration_seconds_count{tenant="acme",connector="d365",table="account",outcome="ok"}')).toBe(1);
    expect(series.get('hub_table_freshness_seconds{tenant="acme",connector="d365",table="account"}')).toBeGreaterThanOrEqual(0);
    expect(series.get('hub_submissions_total{route="local",status="delivered"}')).toBe(1);
    expect(series.get('hub_outbox_depth{status="delivered"}')).toBe(1);
    expect(series.get('hub_http_requests_total{method="POST",route="/tenants/:tenant/connectors/d365::poll",status="200"}')).toBe(1);
  });

  it('opens the circuit after repeated upstream failures and closes it after the cool-down', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_MAX_ATTEMPTS: '1', D365_CIRCUIT_FAILURES: '2', D365_CIRCUIT_COOLDOWN_SECONDS: '1' });
    const test = () => app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    sandbox.faults.add({ status: 503, times: 2, path: /WhoAmI/ });
    expect((await test()).statusCode).toBe(502);
    expect((await test()).statusCode).toBe(502);
    const before = sandbox.requests.length;
    const open = await test();
    expect(open.statusCode).toBe(503);
    expect(open.json().error).toMatchObject({ code: 'd365_unavailable' });
    expect(sandbox.requests.length).toBe(before);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toContain(`hub_upstream_circuit_open{connector="d365",org="${new URL(sandbox.orgUrl).host}"} 1`);

    await waitFor(async () => (await test()).statusCode === 200, { timeoutMs: 5000, everyMs: 250 });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toContain(`hub_upstream_circuit_open{connector="d365",org="${new URL(sandbox.orgUrl).host}"} 0`);
  });

  it('is ready when the store answers and WhoAmI succeeds', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).json()).toStrictEqual({ status: 'ready', checks: { store: 'ok', d365: 'ok', bc: 'not_configured' } });
    sandbox.faults.add({ status: 401, times: 5 });
    const notReady = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().error).toMatchObject({ code: 'not_ready', checks: { store: 'ok', d365: 'd365_error' } });
  });

  it('shutting down during a poll commits the page in hand and leaves a store the next poll completes', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable('cr83d_employee', 3000, { seed: 9 });
    const env = { D365_PAGE_SIZE: '200', HUB_DB_PATH: join(tempDir(), 'hub.db') };
    const { app } = await buildHubOnSandbox(sandbox, env);
    const hub = hubClient(app, 'acme');
    await hub.register(['cr83d_employee']);
    sandbox.faults.add({ status: 200, delayMs: 100, times: 100, path: /cr83d_employees/ });
    const polling = app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:poll' });
    await new Promise((resolve) => setTimeout(resolve, 450));
    await app.close();
    const interrupted = await polling;
    expect(interrupted.statusCode).toBe(502);
    expect(interrupted.json().tables[0]).toMatchObject({ outcome: 'interrupted', error: { code: 'poll_interrupted' } });
    expect(interrupted.json().tables[0].upserted).toBeGreaterThan(0);
    const committed = interrupted.json().tables[0].upserted;
    expect(committed).toBeLessThan(3000);
    sandbox.faults.clear();

    const { app: restarted } = await buildHubOnSandbox(sandbox, env);
    const again = hubClient(restarted, 'acme');
    const resumed = await again.poll();
    expect(resumed.tables[0]).toMatchObject({ outcome: 'ok', upserted: 3000 - committed });
    expect(resumed.tables[0]!.pages).toBeLessThan(15);
    const stored = await again.allRows('cr83d_employee');
    expect(stored.map((r) => r.id).sort()).toStrictEqual(sandbox.data.rows('cr83d_employee').map((r) => String(r.cr83d_employeeid)).sort());
  });
});
