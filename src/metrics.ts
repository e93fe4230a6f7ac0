import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The hub's Prometheus series, on a registry of its own (no global state: two apps in one test process
 * do not share counters). Parts are handed this object and record what they do.
 */
export class HubMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({ name: 'hub_http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly httpDuration = new Histogram({
    name: 'hub_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly upstreamRequests = new Counter({
    name: 'hub_upstream_requests_total',
    help: 'Requests to source systems by connector, host and answer status ("network" when none came)',
    labelNames: ['connector', 'org', 'status'],
    registers: [this.registry],
  });
  readonly upstreamThrottled = new Counter({ name: 'hub_upstream_throttled_total', help: 'Throttling answers (429) from source systems', labelNames: ['connector', 'org'], registers: [this.registry] });
  readonly upstreamThrottleWait = new Counter({ name: 'hub_upstream_throttle_wait_seconds_total', help: 'Seconds spent waiting after throttling answers', labelNames: ['connector', 'org'], registers: [this.registry] });
  readonly upstreamCircuitOpen = new Gauge({ name: 'hub_upstream_circuit_open', help: '1 while calls to the host fail fast after repeated failures', labelNames: ['connector', 'org'], registers: [this.registry] });
  readonly tokenAcquisitions = new Counter({ name: 'hub_token_acquisitions_total', help: 'Token requests to Entra ID (cache misses)', labelNames: ['authority', 'outcome'], registers: [this.registry] });
  readonly rowsUpserted = new Counter({ name: 'hub_rows_upserted_total', help: 'Rows written by polls', labelNames: ['tenant', 'connector', 'table'], registers: [this.registry] });
  readonly rowsDeleted = new Counter({ name: 'hub_rows_deleted_total', help: 'Rows tombstoned by polls', labelNames: ['tenant', 'connector', 'table'], registers: [this.registry] });
  readonly pollDuration = new Histogram({
    name: 'hub_poll_duration_seconds',
    help: 'Duration of one table poll',
    labelNames: ['tenant', 'connector', 'table', 'outcome'],
    buckets: [0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [this.registry],
  });
  readonly submissions = new Counter({ name: 'hub_submissions_total', help: 'Submission outcomes', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly eventDeliveries = new Counter({ name: 'hub_event_deliveries_total', help: 'Event delivery attempts by destination type and outcome', labelNames: ['type', 'outcome'], registers: [this.registry] });
  readonly eventDeliverySeconds = new Histogram({
    name: 'hub_event_delivery_seconds',
    help: 'Time of one event delivery attempt',
    labelNames: ['type'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly orgLabels = new Set<string>();

  /** @param maxOrgLabels distinct `org` label values kept; later orgs share the value "other". */
  constructor(private readonly maxOrgLabels = 100) {
    collectDefaultMetrics({ register: this.registry, prefix: 'hub_' });
  }

  /** The `org` label for a host: tenants may name many orgs, and each value is a series in every org metric. */
  orgLabel(host: string): string {
    if (this.orgLabels.has(host)) return host;
    if (this.orgLabels.size >= this.maxOrgLabels) return 'other';
    this.orgLabels.add(host);
    return host;
  }

  /** A gauge computed at scrape time (freshness, outbox depth) from the store. */
  gaugeFromStore(name: string, help: string, labelNames: string[], read: () => Promise<Array<{ labels: Record<string, string>; value: number }>>): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        const values = await read();
        this.reset();
        for (const { labels, value } of values) this.set(labels, value);
      },
    });
  }
}
