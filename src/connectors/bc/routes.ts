import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { commonErrorResponses, TenantParams, upstreamErrorResponses } from '../../http/schemas.js';
import type { Connections } from '../connections.js';
import type { BusinessCentralConnector } from './connector.js';
import { Companies } from './schemas.js';

const CompaniesResponse = z.object({ companies: Companies });
const responses = { ...commonErrorResponses, ...upstreamErrorResponses };

/** The companies of the connection's environment, for choosing `company_id`. */
export const bcCompanyRoutes: FastifyPluginAsyncZod<{ connections: Connections }> = async (app, { connections }) => {
  const companies = async (tenant?: string) => {
    const connector = await connections.connectorFor(tenant);
    // Only Business Central connections are built by this connector's definition.
    return { companies: await (connector as BusinessCentralConnector).companies() };
  };
  app.get(
    '/connectors/bc/companies',
    { schema: { tags: ['bc'], summary: "Companies of the default connection's environment", response: { 200: CompaniesResponse, ...responses } } },
    async () => companies(),
  );
  app.get(
    '/tenants/:tenant/connectors/bc/companies',
    { schema: { tags: ['bc'], summary: "Companies of the tenant's connection's environment", params: TenantParams, response: { 200: CompaniesResponse, ...responses } } },
    async (request) => companies(request.params.tenant),
  );
};
