import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import { IdleCache } from './idle-cache.js';

export interface OutboundAgentOptions {
  /** Extra CA certificates (PEM) to trust besides the system ones; NODE_EXTRA_CA_CERTS is honoured as well. */
  extraCa?: string[];
  connectTimeoutMs?: number;
  /** Headers and body idle timeouts of one request. */
  requestTimeoutMs: number;
  /** Largest answer body; a larger one fails with undici's UND_ERR_RES_EXCEEDED_MAX_SIZE. */
  maxResponseBytes: number;
  /** An origin's agent unused for this long is closed (its next request makes a new one). */
  idleMs: number;
}

/**
 * One keep-alive undici Agent per remote origin (each Dataverse org, each Entra host), so a slow or
 * throttled org never holds up another one's sockets. Every outbound request of the hub goes through here,
 * and callers ask for the agent per request, so an agent closed for idleness is never reused.
 */
export class OutboundAgents {
  private readonly agents: IdleCache<string, Agent>;

  constructor(private readonly options: OutboundAgentOptions) {
    // close() lets requests already dispatched on the agent finish.
    this.agents = new IdleCache({ idleMs: options.idleMs, dispose: (agent) => agent.close().catch(() => undefined) });
  }

  forOrigin(url: string): Agent {
    return this.agents.get(new URL(url).origin, () => this.create());
  }

  get size(): number {
    return this.agents.size;
  }

  sweep(): number {
    return this.agents.sweep();
  }

  async close(): Promise<void> {
    await Promise.all(this.agents.clear().map((agent) => agent.close()));
  }

  private create(): Agent {
    return new Agent({
      keepAliveTimeout: 30_000,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
      maxResponseSize: this.options.maxResponseBytes,
      connect: this.options.extraCa?.length ? { ca: [...rootCertificates, ...this.options.extraCa] } : undefined,
    });
  }
}
