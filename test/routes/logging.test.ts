import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/build-test-app.js';

describe('logging', () => {
  it('carries the request id on every request line and never a token or secret', async () => {
    const lines: string[] = [];
    const token = 'shared-token-value-1234';
    const secret = 'client-secret-value-5678';
    const { app } = await buildTestApp(
      { HUB_SHARED_TOKEN: token, HUB_SECRET_KEY: 's'.repeat(40), LOG_LEVEL: 'trace', D365_ALLOWED_HOSTS: '127.0.0.1:9' },
      { logger: true, logStream: { write: (line) => void lines.push(line) } },
    );
    const headers = { 'x-internal-token': token, authorization: 'Bearer eyJ-secret-bearer', 'x-request-id': 'req-42' };
    const put = await app.inject({
      method: 'PUT',
      url: '/tenants/acme/connectors/d365/connection',
      headers,
      // Loopback addresses where nothing listens: the test reaches no other host.
      payload: { org_url: 'https://127.0.0.1:9', authority_host: 'https://127.0.0.1:9', tenant_id: '00000000-0000-0000-0000-000000000001', client_id: 'c', client_secret: secret },
    });
    expect(put.statusCode).toBe(200);
    await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test', headers });
    await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-internal-token': 'wrong' } });

    const log = lines.join('');
    expect(log).not.toContain(token);
    expect(log).not.toContain(secret);
    expect(log).not.toContain('eyJ-secret-bearer');
    const requestLines = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
    expect(requestLines.length).toBeGreaterThanOrEqual(6);
    expect(requestLines.every((l) => typeof l.reqId === 'string')).toBe(true);
    expect(requestLines.filter((l) => l.reqId === 'req-42')).toHaveLength(4);
  });
});
