import { createHash } from 'node:crypto';
import type { UpstreamSystem } from '../../errors.js';
import type { HubMetrics } from '../../metrics.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { IdleCache } from './idle-cache.js';
import type { RequestLimits } from './odata-client.js';
import type { OutboundAgents } from './outbound-agents.js';
import { RequestGate, type GateLimits } from './request-gate.js';
import { SharedPause, type SharedPauses } from './shared-pauses.js';
import { createMsalTokenProvider, type ClientCredentials, type TokenProvider } from './token-provider.js';

export interface OutboundPoolDeps {
  agents: OutboundAgents;
  limits: RequestLimits;
  metrics: HubMetrics;
  circuit: { failures: number; cooldownMs: number };
  idleMs: number;
  /** Throttle pauses shared with other processes (PostgreSQL store); none with SQLite. */
  pauses?: SharedPauses;
}

const digest = (parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex');

/**
 * Outbound state shared by every connector and connection of the process: token providers per credential set and
 * resource, request gates per upstream host + principal (throttle pauses and budgets are the principal's, whichever
 * connector sends), circuit breakers per upstream host. Entries nobody used for the idle time are dropped.
 */
export class OutboundPool {
  private readonly tokens: IdleCache<string, TokenProvider>;
  private readonly gates: IdleCache<string, RequestGate>;
  private readonly breakers: IdleCache<string, CircuitBreaker>;

  constructor(readonly deps: OutboundPoolDeps) {
    this.tokens = new IdleCache({ idleMs: deps.idleMs });
    this.gates = new IdleCache({ idleMs: deps.idleMs, busy: (gate) => !gate.idle });
    this.breakers = new IdleCache({ idleMs: deps.idleMs, busy: (breaker) => !breaker.idle });
  }

  get agents(): OutboundAgents {
    return this.deps.agents;
  }

  get limits(): RequestLimits {
    return this.deps.limits;
  }

  get metrics(): HubMetrics {
    return this.deps.metrics;
  }

  /** One provider (and MSAL token cache) per app registration + secret + resource. */
  tokenProvider(credentials: ClientCredentials, system: UpstreamSystem, scopeHint: string): TokenProvider {
    const key = digest([credentials.authorityHost, credentials.tenantId, credentials.clientId, credentials.clientSecret, credentials.scope]);
    return this.tokens.get(key, () =>
      createMsalTokenProvider(credentials, { system, scopeHint, agents: this.deps.agents, metrics: this.deps.metrics, timeoutMs: this.deps.limits.attemptTimeoutMs }),
    );
  }

  /** The gate of an upstream host + principal (asked per request, so an evicted one is never kept alive). */
  gate(host: string, principal: string, limits: GateLimits): RequestGate {
    const key = `${host}|${principal}`;
    const { pauses } = this.deps;
    return this.gates.get(key, () => new RequestGate(limits, Date.now, pauses && new SharedPause(pauses, key)));
  }

  breaker(host: string, system: UpstreamSystem): CircuitBreaker {
    const { metrics, circuit } = this.deps;
    return this.breakers.get(
      host,
      () =>
        new CircuitBreaker({
          system,
          threshold: circuit.failures,
          cooldownMs: circuit.cooldownMs,
          onChange: (open) => metrics.upstreamCircuitOpen.set({ connector: system.id, org: metrics.orgLabel(new URL(host).host) }, open ? 1 : 0),
          shared: this.deps.pauses && new SharedPause(this.deps.pauses, `circuit|${host}`),
        }),
    );
  }

  /** Drops state nobody used for the idle time; answers how many entries. */
  sweep(): number {
    return this.tokens.sweep() + this.gates.sweep() + this.breakers.sweep();
  }
}
