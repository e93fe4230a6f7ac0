import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LogicalName, Table, TableWithAttributes, TenantParams, commonErrorResponses, upstreamErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';

const TablesQuery = z.object({ prefix: z.string().max(128).optional() });
const TablesResponse = z.object({ tables: z.array(Table) });
const WhoAmIResponse = z.object({ ok: z.literal(true), whoami: z.object({ UserId: z.string(), BusinessUnitId: z.string(), OrganizationId: z.string() }) });
const responses = { ...commonErrorResponses, ...upstreamErrorResponses };

/** Discovery: the default connection un-scoped, the tenant's own connection (or the default) under /tenants/{tenant}. */
export const d365TableRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const listTables = async (tenant: string | undefined, prefix = '') => {
    const tables = await services.d365.connectorFor(tenant).listTables();
    const wanted = prefix.toLowerCase();
    return { tables: tables.filter((t) => t.logical.toLowerCase().startsWith(wanted)) };
  };

  app.post(
    '/tenants/:tenant/connectors/d365::test',
    { schema: { tags: ['d365'], summary: 'Check the connection with WhoAmI', params: TenantParams, response: { 200: WhoAmIResponse, ...responses } } },
    async (request) => ({ ok: true as const, whoami: await services.d365.connectorFor(request.params.tenant).whoAmI() }),
  );

  app.get(
    '/connectors/d365/tables',
    { schema: { tags: ['d365'], summary: 'Tables of the default connection, by logical-name prefix', querystring: TablesQuery, response: { 200: TablesResponse, ...responses } } },
    async (request) => listTables(undefined, request.query.prefix),
  );

  app.get(
    '/connectors/d365/tables/:logical',
    { schema: { tags: ['d365'], summary: 'One table with its attributes (default connection)', params: z.object({ logical: LogicalName }), response: { 200: TableWithAttributes, ...responses } } },
    async (request) => services.d365.connectorFor().getTable(request.params.logical),
  );

  app.get(
    '/tenants/:tenant/connectors/d365/tables',
    { schema: { tags: ['d365'], summary: "Tables of the tenant's connection, by prefix", params: TenantParams, querystring: TablesQuery, response: { 200: TablesResponse, ...responses } } },
    async (request) => listTables(request.params.tenant, request.query.prefix),
  );

  app.get(
    '/tenants/:tenant/connectors/d365/tables/:logical',
    {
      schema: {
        tags: ['d365'],
        summary: "One table with its attributes (tenant's connection)",
        params: TenantParams.extend({ logical: LogicalName }),
        response: { 200: TableWithAttributes, ...responses },
      },
    },
    async (request) => services.d365.connectorFor(request.params.tenant).getTable(request.params.logical),
  );
};
