import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { onTestFinished } from 'vitest';
import { createLoopbackCertificate } from '../../src/sandbox/certificate.js';

// adaptivecards' ES build imports without file extensions (it does not load in Node); its UMD bundle does.
const AdaptiveCards = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as {
  AdaptiveCard: new () => { parse(json: unknown, context: unknown): void; version?: { major: number; minor: number } };
  SerializationContext: new () => { eventCount: number; getEventAt(i: number): { message: string } };
};

export type ReceiverKind = 'webhook' | 'slack' | 'discord' | 'teams';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
  /** When it arrived (ms since the epoch). */
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver {
  kind: ReceiverKind;
  /** The URL a destination of this kind would have (Slack-, Discord-, Teams-looking paths on 127.0.0.1). */
  url: string;
  caPem: string;
  /** Every request, in arrival order. */
  received: Received[];
  /** Requests the receiver accepted (2xx), for a webhook at most one per webhook-id. */
  accepted: Received[];
  /** Webhook: the secrets it verifies signatures with. */
  secrets: string[];
  /** Answers to give instead of the normal one, first come first used. */
  nextAnswers: Answer[];
  /** While set, requests get no answer until `release()` (a receiver that hangs). */
  holding: boolean;
  /** Requests held so far (arrived, not answered). */
  held: number;
  release(): void;
  down(): Promise<void>;
  up(): Promise<void>;
}

const PATHS: Record<ReceiverKind, string> = {
  webhook: '/hooks/hub',
  slack: '/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX',
  discord: '/api/webhooks/123456789012345678/abcdefTOKEN',
  teams: '/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SECRETSIG',
};

const text = (status: number, body: string): Answer => ({ status, headers: { 'content-type': 'text/plain' }, body });
const json = (status: number, body: unknown): Answer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/**
 * Slack's rules for an incoming webhook message [D: https://api.slack.com/messaging/webhooks,
 * https://api.slack.com/reference/block-kit/blocks]: `text` or blocks; ≤ 50 blocks; a header's plain_text ≤ 150,
 * a section's text ≤ 3 000, ≤ 10 fields of ≤ 2 000. Answers `ok`, or 400 `invalid_payload` / `no_text` as Slack does.
 */
export function slackAnswer(body: unknown): Answer {
  const message = body as { text?: unknown; blocks?: Array<Record<string, any>> };
  if (typeof message.text !== 'string' || message.text.length === 0) return text(400, 'no_text');
  const blocks = message.blocks ?? [];
  const bad =
    !Array.isArray(blocks) ||
    blocks.length > 50 ||
    blocks.some(
      (b) =>
        typeof b.type !== 'string' ||
        (b.type === 'header' && (b.text?.type !== 'plain_text' || b.text.text.length > 150)) ||
        (b.type === 'section' && ((b.text && b.text.text.length > 3000) || (b.fields && (b.fields.length > 10 || b.fields.some((f: any) => f.text.length > 2000))))),
    );
  return bad ? text(400, 'invalid_payload') : text(200, 'ok');
}

/** Discord's embed limits [D: https://discord.com/developers/docs/resources/message#embed-object-embed-limits]; 400 50035 as Discord answers. */
export function discordAnswer(body: unknown, path: string): Answer {
  const message = body as { content?: string; embeds?: Array<Record<string, any>>; allowed_mentions?: { parse?: unknown[] } };
  const embeds = message.embeds ?? [];
  const invalid = (why: string) => json(400, { code: 50035, message: 'Invalid Form Body', errors: { embeds: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: why }] } } });
  if (!path.includes('wait=true')) return invalid('the hub must ask with ?wait=true');
  if (!message.content && embeds.length === 0) return json(400, { code: 50006, message: 'Cannot send an empty message' });
  if (embeds.length > 10) return invalid('more than 10 embeds');
  let total = 0;
  for (const e of embeds) {
    const fields = (e.fields ?? []) as Array<{ name: string; value: string }>;
    if ((e.title ?? '').length > 256) return invalid('title over 256');
    if ((e.description ?? '').length > 4096) return invalid('description over 4096');
    if (fields.length > 25) return invalid('more than 25 fields');
    if (fields.some((f) => f.name.length > 256 || f.value.length > 1024 || f.value.length === 0)) return invalid('a field name over 256 or value over 1024 or empty');
    if (typeof e.color !== 'number' || (e.timestamp && Number.isNaN(Date.parse(e.timestamp)))) return invalid('color must be an integer, timestamp ISO 8601');
    total += (e.title ?? '').length + (e.description ?? '').length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  }
  if (total > 6000) return invalid('embeds over 6000 characters in all');
  if (!Array.isArray(message.allowed_mentions?.parse) || message.allowed_mentions.parse.length > 0) return invalid('event text must never ping: allowed_mentions.parse must be []');
  return json(200, { id: String(Date.now()), type: 0, channel_id: '1', embeds });
}

/**
 * A Teams Workflows webhook: a message with one Adaptive Card attachment, parsed by Microsoft's own `adaptivecards`
 * package (unknown elements or properties are parse events), version 1.4 or later. 202 with no body, as Workflows answers.
 */
export function teamsAnswer(body: unknown): Answer {
  const message = body as { type?: string; attachments?: Array<{ contentType?: string; content?: Record<string, any> }> };
  const bad = (why: string) => json(400, { error: { code: 'InvalidRequestContent', message: why } });
  if (message.type !== 'message' || message.attachments?.length !== 1) return bad('a message with one attachment');
  const [attachment] = message.attachments;
  if (attachment!.contentType !== 'application/vnd.microsoft.card.adaptive') return bad('an Adaptive Card attachment');
  const content = attachment!.content ?? {};
  if (content.type !== 'AdaptiveCard' || typeof content.$schema !== 'string' || !Array.isArray(content.body)) return bad('type, $schema and body are required');
  const card = new AdaptiveCards.AdaptiveCard();
  const context = new AdaptiveCards.SerializationContext();
  card.parse(content, context);
  if (context.eventCount > 0) return bad(`card: ${context.getEventAt(0).message}`);
  const { major = 0, minor = 0 } = card.version ?? {};
  if (major < 1 || (major === 1 && minor < 4)) return bad('Adaptive Card 1.4 or later');
  return { status: 202 };
}

/** A receiver that answers like the vendor's: checks the wire, verifies signatures, and can be told to misbehave. */
export async function startReceiver(kind: ReceiverKind): Promise<Receiver> {
  const { key, cert } = await createLoopbackCertificate();
  const seenIds = new Set<string>();
  const waiting: Array<() => void> = [];
  let server: Server | null = null;
  let port = 0;
  const receiver: Receiver = {
    kind,
    url: '',
    caPem: cert,
    received: [],
    accepted: [],
    secrets: [],
    nextAnswers: [],
    holding: false,
    held: 0,
    release: () => {
      receiver.holding = false;
      for (const resume of waiting.splice(0)) resume();
    },
    down: async () => {
      const closing = server;
      server = null;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
    up: async () => {
      if (server) return;
      const s = createServer({ key, cert }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          if (receiver.holding) {
            receiver.held++;
            await new Promise<void>((resume) => waiting.push(resume));
          }
          const body = Buffer.concat(chunks).toString('utf8');
          const answer = receiver.nextAnswers.shift() ?? normalAnswer(req.url ?? '', req.headers, body);
          const entry = { path: req.url ?? '', headers: req.headers, body, status: answer.status, at: Date.now() };
          receiver.received.push(entry);
          if (answer.status >= 200 && answer.status < 300) {
            const id = req.headers['webhook-id'] as string | undefined;
            if (kind !== 'webhook' || (id && !seenIds.has(id))) receiver.accepted.push(entry);
            if (id) seenIds.add(id);
          }
          res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
        });
      });
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', () => resolve()));
      port = (s.address() as AddressInfo).port;
      server = s;
      receiver.url = `https://127.0.0.1:${port}${PATHS[kind]}`;
    },
  };
  function normalAnswer(path: string, headers: IncomingHttpHeaders, body: string): Answer {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return text(400, 'invalid_payload');
    }
    switch (kind) {
      case 'webhook':
        try {
          // Verified with every secret the test gave it: any one matching is enough, as during a rotation.
          const ok = receiver.secrets.some((secret) => {
            try {
              new Webhook(secret).verify(body, headers as Record<string, string>);
              return true;
            } catch {
              return false;
            }
          });
          return ok ? { status: 204 } : text(401, 'bad signature');
        } catch {
          return text(401, 'bad signature');
        }
      case 'slack':
        return slackAnswer(parsed);
      case 'discord':
        return discordAnswer(parsed, path);
      case 'teams':
        return teamsAnswer(parsed);
    }
  }
  await receiver.up();
  onTestFinished(() => {
    receiver.release();
    return receiver.down();
  });
  return receiver;
}

/** Slack's rate-limit answer. [D: https://api.slack.com/docs/rate-limits] */
export const slackRateLimited = (seconds: number): Answer => ({ status: 429, headers: { 'retry-after': String(seconds), 'content-type': 'text/plain' }, body: 'rate_limited' });
/** Discord's: JSON with retry_after (seconds, a float) and the header. [D: https://discord.com/developers/docs/topics/rate-limits] */
export const discordRateLimited = (seconds: number): Answer => ({
  status: 429,
  headers: { 'retry-after': String(Math.ceil(seconds)), 'content-type': 'application/json' },
  body: JSON.stringify({ message: 'You are being rate limited.', retry_after: seconds, global: false }),
});
