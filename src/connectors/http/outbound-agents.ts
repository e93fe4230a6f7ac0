import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';

export interface OutboundAgentOptions {
  /** Extra CA certificates (PEM) to trust besides the system ones; NODE_EXTRA_CA_CERTS is honoured as well. */
  extraCa?: string[];
  connectTimeoutMs?: number;
  requestTimeoutMs: number;
}

/**
 * One keep-alive undici Agent per remote origin (each Dataverse org, each Entra host), so a slow or
 * throttled org never holds up another one's sockets. Every outbound request of the hub goes through here.
 */
export class OutboundAgents {
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly options: OutboundAgentOptions) {}

  forOrigin(url: string): Agent {
    const origin = new URL(url).origin;
    let agent = this.agents.get(origin);
    if (!agent) {
      agent = new Agent({
        keepAliveTimeout: 30_000,
        connectTimeout: this.options.connectTimeoutMs ?? 10_000,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
        connect: this.options.extraCa?.length ? { ca: [...rootCertificates, ...this.options.extraCa] } : undefined,
      });
      this.agents.set(origin, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((agent) => agent.close()));
  }
}
