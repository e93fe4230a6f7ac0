import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerAdmin } from './admin-api.js';
import { createLoopbackCertificate } from './certificate.js';
import { answerDataverse } from './dataverse-api.js';
import { EntraSimulator, type SandboxClient } from './entra.js';
import { FaultInjector, faultBody } from './faults.js';
import { metadataId } from './metadata.js';
import { ODataFault, parsePrefer } from './odata-query.js';
import { SAMPLE_TABLES } from './sample-tables.js';
import { SandboxData, type SandboxRow } from './sandbox-data.js';

export type { FaultSpec } from './faults.js';
export type { SandboxRow } from './sandbox-data.js';

export const DEMO_TENANT_ID = '11111111-2222-3333-4444-555555555555';
export const DEMO_CLIENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
/** Public on purpose: it unlocks nothing but the local sandbox. */
export const DEMO_CLIENT_SECRET = 'sandbox-demo-secret';

export interface SandboxOptions {
  tenantId?: string;
  clients?: SandboxClient[];
  tokenLifetimeSeconds?: number;
  seed?: number;
  sampleData?: boolean;
  port?: number;
  entraPort?: number;
}

export interface RecordedRequest {
  server: 'entra' | 'dataverse';
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  at: number;
}

/** Where a Dataverse (simulated or recorded) and its Entra token endpoint answer, and the app that may call it. */
export interface DataverseEndpoint {
  orgUrl: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The self-signed certificate the servers present, to trust. */
  caPem: string;
}

export interface Sandbox extends DataverseEndpoint {
  requests: RecordedRequest[];
  tokenRequests(): number;
  /** Every token issued so far is refused from now on (as after a key rollover): 401 until the client fetches a new one. */
  revokeTokens(): void;
  data: SandboxData;
  faults: FaultInjector;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { ...(text ? { 'content-type': 'application/json; odata.metadata=minimal; charset=utf-8' } : {}), ...headers });
  res.end(text);
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** A local Entra ID + Dataverse Web API v9.2 over real HTTPS on 127.0.0.1 (two servers, two ports). */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const { key, cert } = await createLoopbackCertificate();
  const tenantId = options.tenantId ?? DEMO_TENANT_ID;
  const clients = options.clients ?? [{ clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET, applicationUser: true }];
  const data = new SandboxData(SAMPLE_TABLES, options.seed ?? 42, options.sampleData ?? true);
  const faults = new FaultInjector();
  const requests: RecordedRequest[] = [];
  const entraServer = createServer({ key, cert });
  const orgServer = createServer({ key, cert });
  const authorityHost = `https://127.0.0.1:${await listen(entraServer, options.entraPort ?? 0)}`;
  const orgUrl = `https://127.0.0.1:${await listen(orgServer, options.port ?? 0)}`;
  const entra = new EntraSimulator({ authorityHost, tenantId, orgUrl, clients, tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599 });
  const whoAmI = { UserId: metadataId('user'), BusinessUnitId: metadataId('business-unit'), OrganizationId: metadataId(`org:${tenantId}`) };
  const dataverseHeaders = () => ({
    'odata-version': '4.0',
    'x-ms-service-request-id': randomUUID(),
    req_id: randomUUID(),
    'x-ms-dop-hint': '4',
    'x-ms-ratelimit-burst-remaining-xrm-requests': '7999',
    'x-ms-ratelimit-time-remaining-xrm-requests': '1,200.00',
  });

  entraServer.on('request', async (req, res) => {
    const url = req.url ?? '/';
    requests.push({ server: 'entra', method: req.method ?? 'GET', url, headers: req.headers, at: Date.now() });
    const form = new URLSearchParams(req.method === 'POST' ? await readBody(req) : '');
    const answer = entra.answer(req.method ?? 'GET', url.split('?')[0]!, form, req.headers.authorization);
    send(res, answer.status, answer.body, { 'cache-control': 'no-store' });
  });

  orgServer.on('request', async (req, res) => {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    requests.push({ server: 'dataverse', method, url, headers: req.headers, at: Date.now() });
    const path = url.split('?')[0]!;
    if (path.startsWith('/_sandbox/')) {
      const text = await readBody(req);
      const answer = answerAdmin(data, faults, method, path, text ? JSON.parse(text) : {});
      return send(res, answer.status, answer.body);
    }
    const headers = dataverseHeaders();
    const fault = faults.take(url);
    if (fault?.delayMs) await sleep(fault.delayMs);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const issued = token ? entra.tokens.get(token) : undefined;
    if (!issued || issued.expiresAt <= Date.now() || fault?.status === 401) {
      const challenge = `Bearer authorization_uri=${authorityHost}/${tenantId}/oauth2/authorize, resource_id=${orgUrl}/`;
      return send(res, 401, undefined, { ...headers, 'www-authenticate': challenge });
    }
    if (fault?.status && fault.status !== 200) {
      const retryAfter: Record<string, string> = fault.status === 429 ? { 'retry-after': String(fault.retryAfterSeconds ?? 1) } : {};
      if (fault.rawBody) {
        res.writeHead(fault.status, { 'content-type': fault.rawBody.contentType, ...retryAfter });
        return res.end(fault.rawBody.text);
      }
      const body = { ...faultBody(fault.status), ...(fault.code !== undefined ? { code: fault.code } : {}), ...(fault.message !== undefined ? { message: fault.message } : {}) };
      return send(res, fault.status, { error: body }, { ...headers, ...retryAfter });
    }
    if (!entra.client(issued.clientId)?.applicationUser) {
      return send(res, 403, { error: { code: '0x80072560', message: 'The user is not a member of the organization.' } }, headers);
    }
    if (method !== 'GET') return send(res, 405, { error: { code: '0x8006088b', message: `The sandbox serves reads only (${method}).` } }, headers);
    try {
      const answer = answerDataverse({ data, orgUrl, whoAmI }, url, parsePrefer(req.headers.prefer));
      send(res, answer.status, answer.body, { ...headers, ...answer.headers });
    } catch (error) {
      if (error instanceof ODataFault) return send(res, error.status, { error: { code: error.code, message: error.message } }, headers);
      send(res, 500, { error: { code: '0x80040216', message: `Sandbox failure: ${(error as Error).message}` } }, headers);
    }
  });

  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    orgUrl,
    authorityHost,
    tenantId,
    clientId: clients[0]!.clientId,
    clientSecret: clients[0]!.clientSecret,
    caPem: cert,
    requests,
    tokenRequests: () => entra.tokenRequests,
    revokeTokens: () => entra.tokens.clear(),
    data,
    faults,
    close: async () => {
      await Promise.all([close(entraServer), close(orgServer)]);
    },
  };
}

export type { SandboxClient };
