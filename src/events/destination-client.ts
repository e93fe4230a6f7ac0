import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { DeliveryFailure } from '../outbox/outbox.js';
import { checkDestinationUrl, guardedLookup, type AddressRule } from './destination-address.js';

/** A receiver's answer, its body cut at the client's limit. */
export interface ReceiverAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface DestinationClientOptions {
  rule: AddressRule;
  timeoutMs: number;
  /** Extra CA certificates to trust (tests and the demo: their receivers' own CA). */
  extraCa?: string[];
  maxRequestBytes?: number;
  maxResponseBytes?: number;
}

/** Chat payloads are a few kB; an event's JSON stays far below this. */
const MAX_REQUEST_BYTES = 256 * 1024;
/** Only the start of an answer is read: enough for an error code, never a receiver's whole page. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs to destinations: every address it connects to passes the address rule at that moment (the socket's own
 * lookup), redirects are not followed, the request and the answer read are bounded, and each try ends at the timeout.
 */
export class DestinationClient {
  private readonly agent: Agent;

  constructor(private readonly options: DestinationClientOptions) {
    this.agent = new Agent({
      connect: { lookup: guardedLookup(options.rule), timeout: options.timeoutMs, ...(options.extraCa?.length ? { ca: [...rootCertificates, ...options.extraCa] } : {}) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connections: 8,
    });
  }

  async post(target: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<ReceiverAnswer> {
    // An IP literal never goes through the socket's lookup: the rule is applied to it here.
    const url = await checkDestinationUrl(target, this.options.rule).catch((error: Error) => {
      throw new DeliveryFailure({ message: error.message, permanent: true });
    });
    const bytes = Buffer.byteLength(body);
    if (bytes > (this.options.maxRequestBytes ?? MAX_REQUEST_BYTES)) throw new DeliveryFailure({ message: `the payload is ${bytes} bytes, over the limit`, permanent: true });
    let answer;
    try {
      answer = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'integration-hub', ...headers },
        dispatcher: this.agent,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (error) {
      const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
      if (code === 'EDESTINATIONNOTALLOWED') throw new DeliveryFailure({ message: (error as Error).message, permanent: true });
      const cause = (error as { cause?: Error }).cause;
      const message = [(error as Error).message, cause?.message].filter(Boolean).join(': ');
      throw new DeliveryFailure({ message: `no answer: ${message}${code ? ` (${code})` : ''}` });
    }
    return { status: answer.statusCode, headers: answer.headers, body: await readStart(answer.body, this.options.maxResponseBytes ?? MAX_RESPONSE_BYTES) };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

async function readStart(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= limit) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A body cut short still has its start.
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
