import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLoopbackCertificate } from '../certificate.js';
import { EntraSimulator, type SandboxClient } from '../entra.js';
import { FaultInjector } from '../faults.js';
import { answerBcAdmin } from './bc-admin.js';
import { answerBcApi, bcError, type BcAnswer } from './bc-api.js';
import { BcData } from './bc-data.js';
import { BC_SETS, type BcSetDef } from './bc-sets.js';

export { BLANK_STAMP } from './bc-data.js';
export type { BcSetDef } from './bc-sets.js';

export const BC_DEMO_TENANT_ID = '22222222-3333-4444-5555-666666666666';
export const BC_DEMO_CLIENT_ID = 'bbbbbbbb-cccc-dddd-eeee-ffffffffffff';
/** Public on purpose: it unlocks nothing but the local sandbox. */
export const BC_DEMO_CLIENT_SECRET = 'bc-sandbox-demo-secret';
export const BC_DEMO_ENVIRONMENT = 'production';

export interface BcSandboxOptions {
  seed?: number;
  sampleData?: boolean;
  /** Share of sample rows stamped 0001-01-01T00:00:00Z (default 0.1). */
  blankStampShare?: number;
  /** Entity sets to serve instead of the standard ones (a partner's custom API page, a test's own table). */
  sets?: BcSetDef[];
  clients?: SandboxClient[];
  tokenLifetimeSeconds?: number;
}

export interface BcRecordedRequest {
  method: string;
  url: string;
  at: number;
  /** When the answer was sent, for seeing requests in flight at once. */
  done?: number;
  status?: number;
  /** The app registration whose token the request carried. */
  clientId?: string;
}

export interface BcSandbox {
  /** What BC_API_URL names (the API host's origin). */
  apiUrl: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  environment: string;
  /** The first company's id (a second one exists). */
  companyId: string;
  caPem: string;
  data: BcData;
  faults: FaultInjector;
  requests: BcRecordedRequest[];
  tokenRequests(): number;
  /** The audiences (`aud`) of the tokens the API accepted. */
  audiences: Set<string>;
  close(): Promise<void>;
}

/** The BC_* variables of a default connection to the sandbox's first company (demo, tests, benchmark). */
export function bcSandboxEnv(sandbox: BcSandbox): Record<string, string> {
  return {
    BC_TENANT_ID: sandbox.tenantId,
    BC_CLIENT_ID: sandbox.clientId,
    BC_CLIENT_SECRET: sandbox.clientSecret,
    BC_ENVIRONMENT: sandbox.environment,
    BC_COMPANY_ID: sandbox.companyId,
    BC_API_URL: sandbox.apiUrl,
    BC_AUTHORITY_HOST: sandbox.authorityHost,
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

function send(res: ServerResponse, answer: BcAnswer, headers: Record<string, string> = {}): void {
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  const type = answer.contentType ?? 'application/json; odata.metadata=minimal; odata.streaming=true';
  res.writeHead(answer.status, { 'content-type': type, 'odata-version': '4.0', ...headers });
  res.end(text);
}

/** `Prefer: odata.maxpagesize=N` (BC lowers it to its own cap of 20 000). */
function maxPageSizeOf(prefer: string | string[] | undefined): number | null {
  const value = /odata\.maxpagesize\s*=\s*(\d+)/.exec([prefer ?? []].flat().join(','))?.[1];
  return value === undefined ? null : Math.max(1, Number(value));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local Entra ID + Business Central API v2.0 (online URL shape) over real HTTPS on 127.0.0.1: two companies with
 * customers, vendors, items, invoices; `$metadata`; server-driven paging with `Prefer: odata.maxpagesize`; the
 * `lastModifiedDateTime` filter; BC's error bodies and throttling answers (faults).
 */
export async function startBcSandbox(options: BcSandboxOptions = {}): Promise<BcSandbox> {
  const { key, cert } = await createLoopbackCertificate();
  const data = new BcData(options.sets ?? BC_SETS, { seed: options.seed ?? 7, sampleData: options.sampleData ?? true, blankStampShare: options.blankStampShare ?? 0.1 });
  const faults = new FaultInjector();
  const requests: BcRecordedRequest[] = [];
  const clients = options.clients ?? [{ clientId: BC_DEMO_CLIENT_ID, clientSecret: BC_DEMO_CLIENT_SECRET, applicationUser: true }];
  const entraServer = createServer({ key, cert });
  const apiServer = createServer({ key, cert });
  const authorityHost = `https://127.0.0.1:${await listen(entraServer)}`;
  const apiUrl = `https://127.0.0.1:${await listen(apiServer)}`;
  const entra = new EntraSimulator({ authorityHost, tenantId: BC_DEMO_TENANT_ID, orgUrl: apiUrl, clients, tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599 });
  const audiences = new Set<string>();

  entraServer.on('request', async (req, res) => {
    const form = new URLSearchParams(req.method === 'POST' ? await readBody(req) : '');
    const answer = entra.answer(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!, form, req.headers.authorization);
    send(res, { status: answer.status, body: answer.body, contentType: 'application/json' }, { 'cache-control': 'no-store' });
  });

  apiServer.on('request', async (req, res) => {
    const url = req.url ?? '/';
    const record: BcRecordedRequest = { method: req.method ?? 'GET', url, at: Date.now() };
    requests.push(record);
    res.on('finish', () => {
      record.done = Date.now();
      record.status = res.statusCode;
    });
    const [pathPart, search = ''] = url.split('?') as [string, string?];
    const path = decodeURIComponent(pathPart);
    if (path.startsWith('/_sandbox/')) {
      const text = await readBody(req);
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        return send(res, { status: 400, body: { error: { code: 'invalid_json', message: 'Body is not valid JSON.' } } });
      }
      const answer = answerBcAdmin(data, faults, record.method, path, body);
      return send(res, { status: answer.status, body: answer.body ?? '' }, {});
    }
    const fault = faults.take(url);
    if (fault?.delayMs) await sleep(fault.delayMs);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const issued = token ? entra.tokens.get(token) : undefined;
    if (!issued || issued.expiresAt <= Date.now() || fault?.status === 401) {
      return send(res, bcError(401, 'Authentication_InvalidCredentials', 'The server has rejected the client credentials.'), { 'www-authenticate': `Bearer realm="", error="invalid_token"` });
    }
    audiences.add(JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString()).aud);
    record.clientId = issued.clientId;
    if (fault?.status && fault.status !== 200) {
      const retryAfter: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
      if (fault.status === 429) {
        // Whether BC sends Retry-After with 429 is not documented: only when the fault names one.
        const body = { error: { code: 'Application_TooManyRequests', message: 'Too many requests reached. Actual (101). Maximum (100).' } };
        return send(res, { status: 429, body }, retryAfter);
      }
      const answer = bcError(fault.status, fault.code ?? (fault.status >= 500 ? 'Internal_ServerError' : 'BadRequest_NotFound'), fault.message ?? `Sandbox injected fault (HTTP ${fault.status}).`);
      // BC documents retry-after on 502 and 503 (and the sandbox sends it on 504 too, as the limits page's gateway does).
      return send(res, answer, fault.status >= 502 ? { 'retry-after': String(fault.retryAfterSeconds ?? 1) } : retryAfter);
    }
    if (record.method !== 'GET') return send(res, bcError(405, 'BadRequest_MethodNotAllowed', `The sandbox serves reads only (${record.method}).`));
    const root = /^\/v2\.0\/(?:([^/]+)\/)?([^/]+)\/api\/v2\.0\/(.*)$/.exec(path);
    if (!root) return send(res, bcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${path.split('/')[1] ?? ''}'.`));
    const [, tenant, environment, rest] = root as unknown as [string, string | undefined, string, string];
    if (tenant !== undefined && tenant.toLowerCase() !== BC_DEMO_TENANT_ID) {
      return send(res, bcError(401, 'Authentication_InvalidCredentials', `The token's tenant is not '${tenant}'.`));
    }
    if (environment !== BC_DEMO_ENVIRONMENT) return send(res, bcError(404, 'BadRequest_ResourceNotFound', `Environment '${environment}' does not exist.`));
    const apiRoot = `${apiUrl}/v2.0/${tenant ? `${tenant}/` : ''}${environment}/api/v2.0`;
    try {
      send(res, answerBcApi({ data, apiRoot, maxPageSize: maxPageSizeOf(req.headers.prefer) }, rest, new URLSearchParams(search)));
    } catch (error) {
      send(res, bcError(500, 'Internal_ServerError', `Sandbox failure: ${(error as Error).message}`));
    }
  });

  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    apiUrl,
    authorityHost,
    tenantId: BC_DEMO_TENANT_ID,
    clientId: clients[0]!.clientId,
    clientSecret: clients[0]!.clientSecret,
    environment: BC_DEMO_ENVIRONMENT,
    companyId: data.companies[0]!.id,
    caPem: cert,
    data,
    faults,
    requests,
    tokenRequests: () => entra.tokenRequests,
    audiences,
    close: async () => {
      await Promise.all([close(entraServer), close(apiServer)]);
    },
  };
}
