import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ErrorEnvelope, TenantParams, commonErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';

/** An origin: no credentials, path, query or fragment (the hub appends its own paths). http is refused by the host check. */
const HttpsUrl = z
  .url({ protocol: /^https?$/, error: 'must be an https URL' })
  .refine((value) => {
    const url = new URL(value);
    return !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash;
  }, 'must be an https origin (no user, path, query or fragment)');
const ConnectionBody = z
  .object({
    org_url: HttpsUrl,
    tenant_id: z.string().min(1).max(128),
    client_id: z.string().min(1).max(128),
    client_secret: z.string().min(1).max(1024),
    authority_host: HttpsUrl.optional(),
  })
  .strict();
const ConnectionResponse = z.object({
  tenant: z.string(),
  org_url: z.string(),
  tenant_id: z.string(),
  client_id: z.string(),
  authority_host: z.string(),
  client_secret_set: z.boolean(),
  updated_at: z.string(),
});
const path = '/tenants/:tenant/connectors/d365/connection';
const responses = { ...commonErrorResponses, 503: ErrorEnvelope };
// Hosts and tenant ids are checked by the service (400 host_not_allowed / validation_failed), not by this schema.

/** A tenant's own D365 connection; stored as given (the secret encrypted), verified only by `d365:test`. */
export const d365ConnectionRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.put(
    path,
    { schema: { tags: ['connections'], summary: "Store the tenant's D365 connection", params: TenantParams, body: ConnectionBody, response: { 200: ConnectionResponse, ...responses } } },
    async (request) => services.d365.put(request.params.tenant, request.body),
  );

  app.get(
    path,
    { schema: { tags: ['connections'], summary: "The tenant's D365 connection, without its secret", params: TenantParams, response: { 200: ConnectionResponse, ...responses } } },
    async (request) => services.d365.get(request.params.tenant),
  );

  app.delete(
    path,
    { schema: { tags: ['connections'], summary: "Remove the tenant's D365 connection", params: TenantParams, response: { 204: z.null(), ...responses } } },
    async (request, reply) => {
      services.d365.delete(request.params.tenant);
      return reply.status(204).send(null);
    },
  );
};
