import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createLoopbackCertificate } from './certificate.js';

export interface DemoReceiver {
  url: string;
  caPem: string;
  close(): Promise<void>;
}

/** Events kept for `GET /_receiver/events` (the newest last). */
const KEPT = 100;

/**
 * The demo's webhook receiver (HTTPS on 127.0.0.1): prints one line per event it receives and lists the last ones
 * at `GET /_receiver/events`, so the README's walk-through can show a destination at work without any outside service.
 */
export async function startDemoReceiver(port = 0): Promise<DemoReceiver> {
  const { key, cert } = await createLoopbackCertificate();
  const received: Array<{ received_at: string; headers: Record<string, unknown>; event: unknown }> = [];
  const server = createServer({ key, cert }, (req, res) => {
    if (req.method === 'GET' && req.url === '/_receiver/events') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let event: { type?: string; tenant_id?: string; data?: Record<string, unknown> } = {};
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end('not JSON');
        return;
      }
      received.push({ received_at: new Date().toISOString(), headers: { 'webhook-id': req.headers['webhook-id'], 'webhook-signature': req.headers['webhook-signature'] }, event });
      if (received.length > KEPT) received.shift();
      process.stdout.write(`[demo receiver] ${event.type ?? '?'} tenant=${event.tenant_id ?? '?'} ${JSON.stringify(event.data ?? {})}\n`);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/demo`,
    caPem: cert,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
