import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { createLoopbackCertificate } from '../../src/sandbox/certificate.js';
import { EntraSimulator } from '../../src/sandbox/entra.js';
import type { DataverseEndpoint } from '../../src/sandbox/index.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dataverse');
/** The host the recorded bodies name (the docs' `[Organization URI]`, see the fixtures' README). */
const RECORDED_ORIGIN = 'https://org.example.crm.dynamics.com';

export interface RecordedAnswer {
  /** A fixture name (`test/fixtures/dataverse/<name>.body.json`). */
  fixture: string;
  /** A body the test composed instead of a fixture file (said so where it is used). */
  text?: string;
  status?: number;
  headers?: Record<string, string>;
}

export interface RecordedDataverse extends DataverseEndpoint {
  /** Requests as they reached the server, path and query verbatim. */
  requests: Array<{ url: string; headers: IncomingHttpHeaders }>;
}

/**
 * An HTTPS server that answers the hub's requests with recorded Dataverse bodies (test/fixtures/dataverse),
 * byte for byte apart from the host, plus a token endpoint (the sandbox's Entra simulator) so the real MSAL and
 * OData client run against it. A request the route table does not name gets the recorded "No HTTP resource" 404.
 */
export function startRecordedDataverse(routes: Record<string, RecordedAnswer | RecordedAnswer[]>): Promise<RecordedDataverse> {
  return startRecordedServer(routes, { folder: FIXTURES, recordedOrigin: RECORDED_ORIGIN, file: (fixture) => `${fixture}.body.json`, notFound: { fixture: 'error-no-http-resource', status: 404 } });
}

export interface RecordedSource {
  folder: string;
  /** The origin the recorded bodies name, replaced by this server's. */
  recordedOrigin: string;
  file: (fixture: string) => string;
  /** What a request the routes do not name is answered. */
  notFound: RecordedAnswer;
}

/** The same for any source's recordings (BC: test/fixtures/bc). */
export async function startRecordedServer(routes: Record<string, RecordedAnswer | RecordedAnswer[]>, source: RecordedSource): Promise<RecordedDataverse> {
  const { key, cert } = await createLoopbackCertificate();
  const server = createServer({ key, cert });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tenantId = '11111111-2222-3333-4444-555555555555';
  const client = { clientId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', clientSecret: 'recorded-secret', applicationUser: true };
  const entra = new EntraSimulator({ authorityHost: origin, tenantId, orgUrl: origin, clients: [client], tokenLifetimeSeconds: 3599 });
  // Verbatim, with only the recorded origin replaced by this server's.
  const body = (fixture: string) => readFileSync(join(source.folder, source.file(fixture)), 'utf8').replaceAll(source.recordedOrigin, origin);
  const served = new Map<string, number>();
  const requests: RecordedDataverse['requests'] = [];

  server.on('request', async (req, res) => {
    const url = req.url ?? '/';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (url.startsWith(`/${tenantId}/`)) {
      const answer = entra.answer(req.method ?? 'GET', url.split('?')[0]!, new URLSearchParams(Buffer.concat(chunks).toString()), req.headers.authorization);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(answer.body));
    }
    requests.push({ url, headers: req.headers });
    // Successive requests of one URL take the route's answers in turn (the last one repeats).
    const route = routes[url];
    const answers = route === undefined ? [] : [route].flat();
    const n = served.get(url) ?? 0;
    served.set(url, n + 1);
    const answer = answers[Math.min(n, answers.length - 1)] ?? source.notFound;
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/json; odata.metadata=minimal', 'odata-version': '4.0', ...answer.headers });
    res.end(answer.text ?? body(answer.fixture));
  });
  onTestFinished(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
  return { orgUrl: origin, authorityHost: origin, tenantId, clientId: client.clientId, clientSecret: client.clientSecret, caPem: cert, requests };
}
