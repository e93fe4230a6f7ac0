import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { UnauthorizedError } from '../errors.js';

const PUBLIC_PATHS = new Set(['/', '/health']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Comparing digests keeps the comparison constant-time whatever the presented token's length. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  return presented !== undefined && timingSafeEqual(digest(presented), digest(expected));
}

/** When a shared token is configured, every route except the liveness ones needs `X-Internal-Token`. */
export function registerSharedTokenAuth(app: FastifyInstance, sharedToken: string | undefined): void {
  if (!sharedToken) return;
  app.addHook('onRequest', async (request) => {
    if (PUBLIC_PATHS.has(request.url.split('?')[0]!)) return;
    const header = request.headers['x-internal-token'];
    if (!tokenMatches(Array.isArray(header) ? header[0] : header, sharedToken)) throw new UnauthorizedError();
  });
}
