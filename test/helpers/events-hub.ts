import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { Resolve } from '../../src/events/destination-address.js';
import { buildTestApp } from './build-test-app.js';
import type { Receiver } from './receivers.js';

export const TEST_SECRET_KEY = 'events-test-secret-key-0123456789abcdef';

/** Settings that let destinations on 127.0.0.1 receive quickly: short rounds and backoff. */
export const eventsEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  HUB_SECRET_KEY: TEST_SECRET_KEY,
  DESTINATIONS_ALLOW_PRIVATE_NETWORKS: 'true',
  EVENTS_INTERVAL_MS: '50',
  DESTINATION_RETRY_BASE_SECONDS: '0.05',
  DESTINATION_RETRY_MAX_SECONDS: '0.2',
  DESTINATION_TIMEOUT_SECONDS: '2',
  ...extra,
});

/** A hub that trusts the receivers' certificates. */
export async function buildEventsHub(receivers: Receiver[], env: Record<string, string> = {}, resolve?: Resolve): Promise<FastifyInstance> {
  const { app } = await buildTestApp(eventsEnv(env), { extraCa: receivers.map((r) => r.caPem), ...(resolve ? { resolve } : {}) });
  await app.ready();
  return app;
}

/** Small calls of the destination and event routes, asserting their status. */
export function eventsClient(app: FastifyInstance, tenant = 'acme') {
  const base = `/tenants/${tenant}`;
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, status: number, payload?: unknown) => {
    const res = await app.inject({ method, url: `${base}${url}`, ...(payload === undefined ? {} : { payload: payload as object }) });
    expect(res.statusCode, res.body).toBe(status);
    return res.body ? res.json() : undefined;
  };
  return {
    call,
    create: (body: Record<string, unknown>, status = 201) => call('POST', '/destinations', status, body),
    deliveries: async (id: string, status?: string) =>
      ((await call('GET', `/destinations/${id}/deliveries${status ? `?status=${status}` : ''}`, 200)) as { deliveries: Array<Record<string, any>> }).deliveries,
    events: async (query = '') => ((await call('GET', `/events${query ? `?${query}` : ''}`, 200)) as { events: Array<Record<string, any>> }).events,
    /** A route=local submission: its delivery makes a submission.delivered event. */
    submit: (id: string) => app.inject({ method: 'POST', url: `${base}/connectors/d365/submit`, payload: { submission_package_id: id, route: 'local', answers: { q: 1 }, attachments: [] } }),
  };
}
