import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectorDefinition } from '../connectors/types.js';
import { Table, TableName, TableWithAttributes, TenantParams, commonErrorResponses, upstreamErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';

const TablesQuery = z.object({ prefix: z.string().max(128).optional() });
const TablesResponse = z.object({ tables: z.array(Table) });
const responses = { ...commonErrorResponses, ...upstreamErrorResponses };

/** Connection test and discovery: the default connection un-scoped, the tenant's own (or the default) under /tenants/{tenant}. */
export const connectorTableRoutes: FastifyPluginAsyncZod<{ services: Services; definition: ConnectorDefinition }> = async (app, { services, definition }) => {
  const { id } = definition;
  const connections = services.connectors.get(id);
  const tags = [id];
  const listTables = async (tenant: string | undefined, prefix = '') => {
    const tables = await (await connections.connectorFor(tenant)).listTables();
    const wanted = prefix.toLowerCase();
    return { tables: tables.filter((t) => t.logical.toLowerCase().startsWith(wanted)) };
  };
  const getTable = async (tenant: string | undefined, logical: string) => (await connections.connectorFor(tenant)).getTable(definition.tableName(logical));

  app.post(
    `/tenants/:tenant/connectors/${id}::test`,
    { schema: { tags, summary: `Check the tenant's ${definition.label} connection`, params: TenantParams, response: { 200: definition.testResponse, ...responses } } },
    async (request) => ({ ok: true as const, ...(await (await connections.connectorFor(request.params.tenant)).test()) }),
  );

  app.get(
    `/connectors/${id}/tables`,
    { schema: { tags, summary: 'Tables of the default connection, by name prefix', querystring: TablesQuery, response: { 200: TablesResponse, ...responses } } },
    async (request) => listTables(undefined, request.query.prefix),
  );

  app.get(
    `/connectors/${id}/tables/:logical`,
    { schema: { tags, summary: 'One table with its attributes (default connection)', params: z.object({ logical: TableName }), response: { 200: TableWithAttributes, ...responses } } },
    async (request) => getTable(undefined, request.params.logical),
  );

  app.get(
    `/tenants/:tenant/connectors/${id}/tables`,
    { schema: { tags, summary: "Tables of the tenant's connection, by name prefix", params: TenantParams, querystring: TablesQuery, response: { 200: TablesResponse, ...responses } } },
    async (request) => listTables(request.params.tenant, request.query.prefix),
  );

  app.get(
    `/tenants/:tenant/connectors/${id}/tables/:logical`,
    {
      schema: {
        tags,
        summary: "One table with its attributes (tenant's connection)",
        params: TenantParams.extend({ logical: TableName }),
        response: { 200: TableWithAttributes, ...responses },
      },
    },
    async (request) => getTable(request.params.tenant, request.params.logical),
  );
};
