import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../../helpers/build-test-app.js';
import { buildHubOnSandbox, sandboxEnv, sandboxHosts, startTestSandbox } from '../../helpers/sandbox.js';

const whoAmI = (app: Awaited<ReturnType<typeof buildHubOnSandbox>>['app'], tenant = 'acme') => app.inject({ method: 'POST', url: `/tenants/${tenant}/connectors/d365:test` });

describe('outbound calls under unlucky conditions', () => {
  it('requests that all meet a 401 at once share one token refresh', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    expect((await whoAmI(app)).statusCode).toBe(200);
    const before = sandbox.tokenRequests();
    sandbox.revokeTokens();
    const answers = await Promise.all(Array.from({ length: 8 }, () => whoAmI(app)));
    expect(answers.map((a) => a.statusCode)).toStrictEqual(Array(8).fill(200));
    expect(sandbox.tokenRequests() - before).toBe(1);
  });

  it('after the cool-down lets exactly one probe through while the others fail fast', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_MAX_ATTEMPTS: '1', D365_CIRCUIT_FAILURES: '2', D365_CIRCUIT_COOLDOWN_SECONDS: '1' });
    sandbox.faults.add({ status: 503, times: 2, path: /WhoAmI/ });
    await whoAmI(app);
    await whoAmI(app);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    sandbox.faults.add({ status: 503, delayMs: 300, times: 1, path: /WhoAmI/ });
    const seen = sandbox.requests.filter((r) => r.url.includes('WhoAmI')).length;
    const answers = await Promise.all(Array.from({ length: 6 }, () => whoAmI(app)));
    expect(sandbox.requests.filter((r) => r.url.includes('WhoAmI')).length - seen).toBe(1);
    expect(answers.map((a) => a.statusCode).sort()).toStrictEqual([502, 503, 503, 503, 503, 503]);
    expect(answers.find((a) => a.statusCode === 503)!.json().error).toMatchObject({ code: 'd365_unavailable', message: expect.stringContaining('until the probe request in flight answers') });
  });

  it('bounds one request, retries and waits included, by D365_REQUEST_DEADLINE_SECONDS', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_REQUEST_DEADLINE_SECONDS: '1' });
    sandbox.faults.add({ status: 200, delayMs: 5000, times: 1, path: /WhoAmI/ });
    const slow = await whoAmI(app);
    expect(slow.statusCode).toBe(502);
    expect(slow.json().error).toMatchObject({ code: 'd365_error', upstream: { code: 'deadline_exceeded', message: expect.stringContaining('within 1 s, retries included (D365_REQUEST_DEADLINE_SECONDS)') } });

    sandbox.faults.add({ status: 429, retryAfterSeconds: 30, times: 1, path: /WhoAmI/ });
    const throttled = await whoAmI(app);
    expect(throttled.statusCode).toBe(502);
    expect(throttled.json().error.upstream).toMatchObject({ status: 429, code: '0x80072322' });
  });

  it('drops an idle connector (its next call fetches a new token) but keeps an open circuit', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildTestApp(
      { ...sandboxEnv(sandbox), D365_MAX_ATTEMPTS: '1', D365_CIRCUIT_FAILURES: '1', D365_CIRCUIT_COOLDOWN_SECONDS: '60' },
      { extraCa: [sandbox.caPem], idleEvictMs: 200 },
    );
    expect((await whoAmI(app)).statusCode).toBe(200);
    expect(sandbox.tokenRequests()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await whoAmI(app)).statusCode).toBe(200);
    expect(sandbox.tokenRequests()).toBe(2);

    sandbox.faults.add({ status: 503, times: 1, path: /WhoAmI/ });
    expect((await whoAmI(app)).statusCode).toBe(502);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const stillOpen = await whoAmI(app);
    expect(stillOpen.statusCode).toBe(503);
    expect(stillOpen.json().error.code).toBe('d365_unavailable');
  });

  it('bounds the org metric label: orgs past METRICS_MAX_ORG_LABELS are counted as "other"', async () => {
    const [orgA, orgB] = [await startTestSandbox(), await startTestSandbox()];
    const { app } = await buildHubOnSandbox(orgA, { HUB_SECRET_KEY: 'k'.repeat(40), METRICS_MAX_ORG_LABELS: '1', D365_ALLOWED_HOSTS: sandboxHosts([orgB]) }, [orgB]);
    await app.inject({
      method: 'PUT',
      url: '/tenants/beta/connectors/d365/connection',
      payload: { org_url: orgB.orgUrl, tenant_id: orgB.tenantId, client_id: orgB.clientId, client_secret: orgB.clientSecret, authority_host: orgB.authorityHost },
    });
    expect((await whoAmI(app, 'alpha')).statusCode).toBe(200);
    expect((await whoAmI(app, 'beta')).statusCode).toBe(200);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(`hub_upstream_requests_total{connector="d365",org="${new URL(orgA.orgUrl).host}",status="200"} 1`);
    expect(metrics).toContain('hub_upstream_requests_total{connector="d365",org="other",status="200"} 1');
    expect(metrics).not.toContain(new URL(orgB.orgUrl).host);
  });
});
