import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/build-test-app.js';

const TOKEN = 'test-shared-token-value';

describe('gateway', () => {
  it('GET / names the service and lists its endpoints', async () => {
    const { app } = await buildTestApp();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.service).toBe('integration-hub');
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.endpoints).toEqual(expect.arrayContaining(['GET /', 'GET /health', 'GET /openapi.json']));
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('GET /health reports the store and that D365 is not configured', async () => {
    const { app } = await buildTestApp();
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ok',
      store: { ok: true, schema_version: expect.any(Number) },
      d365: { configured: false, missing: ['D365_ORG_URL', 'D365_TENANT_ID', 'D365_CLIENT_ID', 'D365_CLIENT_SECRET'] },
    });
  });

  it('keeps a caller-supplied request id', async () => {
    const { app } = await buildTestApp();
    const res = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  describe('with HUB_SHARED_TOKEN', () => {
    it('leaves / and /health open', async () => {
      const { app } = await buildTestApp({ HUB_SHARED_TOKEN: TOKEN });
      expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/health?x=1' })).statusCode).toBe(200);
    });

    it('answers 401 without the token or with a wrong one', async () => {
      const { app } = await buildTestApp({ HUB_SHARED_TOKEN: TOKEN });
      for (const headers of [{}, { 'x-internal-token': 'wrong' }, { 'x-internal-token': `${TOKEN}x` }]) {
        const res = await app.inject({ method: 'GET', url: '/openapi.json', headers });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toStrictEqual({ error: { code: 'unauthorized', message: 'Missing or invalid X-Internal-Token header.' } });
      }
    });

    it('protects unknown routes too, so they reveal nothing', async () => {
      const { app } = await buildTestApp({ HUB_SHARED_TOKEN: TOKEN });
      expect((await app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(401);
    });

    it('accepts the right token', async () => {
      const { app } = await buildTestApp({ HUB_SHARED_TOKEN: TOKEN });
      const res = await app.inject({ method: 'GET', url: '/openapi.json', headers: { 'x-internal-token': TOKEN } });
      expect(res.statusCode).toBe(200);
    });
  });

  describe('error envelope', () => {
    it('404 for an unknown route', async () => {
      const { app } = await buildTestApp();
      const res = await app.inject({ method: 'GET', url: '/nope?a=b' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toStrictEqual({ error: { code: 'not_found', message: 'No route for GET /nope.' } });
    });

    it('400 for malformed JSON, 413 for a body over the limit, 500 without a stack for a thrown error', async () => {
      const { app } = await buildTestApp({ HUB_BODY_LIMIT_MB: '0.001' });
      app.post('/echo', async (request) => request.body);
      app.get('/boom', async () => {
        throw new Error('database password is hunter2');
      });

      const malformed = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json()).toStrictEqual({ error: { code: 'invalid_json', message: 'Body is not valid JSON.' } });

      const tooLarge = await app.inject({ method: 'POST', url: '/echo', payload: { blob: 'x'.repeat(5000) } });
      expect(tooLarge.statusCode).toBe(413);
      expect(tooLarge.json()).toStrictEqual({
        error: { code: 'body_too_large', message: 'Request body is larger than the configured limit (HUB_BODY_LIMIT_MB).' },
      });

      const boom = await app.inject({ method: 'GET', url: '/boom' });
      expect(boom.statusCode).toBe(500);
      expect(boom.json()).toStrictEqual({
        error: { code: 'internal_error', message: 'Internal server error; see the hub log for this request id.' },
      });
      expect(boom.body).not.toContain('hunter2');
      expect(boom.body).not.toContain('at ');
    });
  });

  it('serves an OpenAPI 3 document of every route, and the docs page', async () => {
    const { app } = await buildTestApp();
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const served = ((await app.inject({ method: 'GET', url: '/' })).json().endpoints as string[])
      .filter((e) => e !== 'GET /openapi.json')
      .map((e) => e.replace(/\/:(\w+)/g, '/{$1}'));
    expect(served.length).toBeGreaterThan(15);
    expect(documented.sort()).toStrictEqual(served.sort());
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });

  it('serves over a real socket', async () => {
    const { app } = await buildTestApp();
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('ok');
  });
});
