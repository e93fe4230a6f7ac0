import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/build-test-app.js';

describe('operations', () => {
  it('limits requests per tenant with a 429 envelope and Retry-After, leaving other tenants alone', async () => {
    const { app } = await buildTestApp({ HUB_RATE_LIMIT_PER_MINUTE: '3' });
    const url = (tenant: string) => `/tenants/${tenant}/connectors/d365:test`;
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'POST', url: url('noisy') })).statusCode).toBe(503);
    const limited = await app.inject({ method: 'POST', url: url('noisy') });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json()).toStrictEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/^More than 3 requests a minute; retry in \d+ s\.$/) } });
    expect((await app.inject({ method: 'POST', url: url('quiet') })).statusCode).toBe(503);
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('with the default limit, 32 concurrent clients of one tenant making 1 024 requests are never throttled (600 a minute was)', async () => {
    const { app } = await buildTestApp();
    const url = '/tenants/acme/connectors/d365/tables:status';
    const statuses = await Promise.all(
      Array.from({ length: 32 }, async () => {
        const seen: number[] = [];
        for (let i = 0; i < 32; i++) seen.push((await app.inject({ method: 'GET', url })).statusCode);
        return seen;
      }),
    );
    expect(new Set(statuses.flat())).toStrictEqual(new Set([200]));
  });

  it('counts a percent-encoded tenant name against the same tenant', async () => {
    const { app } = await buildTestApp({ HUB_RATE_LIMIT_PER_MINUTE: '3' });
    for (const spelling of ['acme', '%61cme', 'ac%6De']) expect((await app.inject({ method: 'POST', url: `/tenants/${spelling}/connectors/d365:test` })).statusCode).toBe(503);
    const limited = await app.inject({ method: 'POST', url: '/tenants/%61%63%6d%65/connectors/d365:test' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
  });

  it('exposes Prometheus metrics, protected by the shared token', async () => {
    const { app } = await buildTestApp({ HUB_SHARED_TOKEN: 'tok' });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    await app.inject({ method: 'GET', url: '/health' });
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-internal-token': 'tok' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toContain('hub_http_requests_total{method="GET",route="/health",status="200"} 1');
    expect(res.body).toContain('# TYPE hub_upstream_requests_total counter');
  });

  it('is ready without D365 configured, and says so', async () => {
    const { app } = await buildTestApp();
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ status: 'ready', checks: { store: 'ok', d365: 'not_configured', bc: 'not_configured' } });
  });
});
