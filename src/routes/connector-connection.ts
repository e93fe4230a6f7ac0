import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectorDefinition } from '../connectors/types.js';
import { ErrorEnvelope, TenantParams, commonErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';

const responses = { ...commonErrorResponses, 503: ErrorEnvelope };
// Hosts and tenant ids are checked by the connector (400 host_not_allowed / validation_failed), not by the schema.

/** A tenant's own connection to one connector; stored as given (secrets encrypted), verified only by `:test`. */
export const connectorConnectionRoutes: FastifyPluginAsyncZod<{ services: Services; definition: ConnectorDefinition }> = async (app, { services, definition }) => {
  const path = `/tenants/:tenant/connectors/${definition.id}/connection`;
  const connections = services.connectors.get(definition.id);
  const tags = ['connections'];
  const View = definition.connectionView;

  app.put(
    path,
    { schema: { tags, summary: `Store the tenant's ${definition.label} connection`, params: TenantParams, body: definition.connectionBody, response: { 200: View, ...responses } } },
    async (request) => connections.put(request.params.tenant, request.body),
  );

  app.get(
    path,
    { schema: { tags, summary: `The tenant's ${definition.label} connection, without its secrets`, params: TenantParams, response: { 200: View, ...responses } } },
    async (request) => connections.get(request.params.tenant),
  );

  app.delete(
    path,
    { schema: { tags, summary: `Remove the tenant's ${definition.label} connection`, params: TenantParams, response: { 204: z.null(), ...responses } } },
    async (request, reply) => {
      await connections.delete(request.params.tenant);
      return reply.status(204).send(null);
    },
  );
};
