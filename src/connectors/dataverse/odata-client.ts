import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { request, type Dispatcher } from 'undici';
import { UpstreamError } from '../../errors.js';
import type { HubMetrics } from '../../metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { RequestGate } from './request-gate.js';
import { decideRetry, type RetryLimits } from './retry-policy.js';
import type { TokenProvider } from './token-provider.js';
import { upstreamErrorFromResponse, upstreamNetworkError } from './upstream-error.js';

export interface ODataPage {
  rows: Record<string, unknown>[];
  nextLink: string | null;
  deltaLink: string | null;
}

export interface ODataClientOptions {
  orgUrl: string;
  apiVersion: string;
  tokens: TokenProvider;
  dispatcher: Dispatcher;
  gate: RequestGate;
  limits: RetryLimits;
  breaker: CircuitBreaker;
  metrics: HubMetrics;
  log: Logger;
  random?: () => number;
}

export interface GetOptions {
  prefer?: string[];
  signal?: AbortSignal;
}

interface RawResponse {
  status: number | null;
  retryAfter: string | null;
  text: string;
  error?: unknown;
}

/** JSON over the Dataverse Web API: auth, the OData headers, the concurrency gate and the retry policy. */
export class ODataClient {
  readonly baseUrl: string;
  private readonly origin: string;

  constructor(private readonly options: ODataClientOptions) {
    this.baseUrl = `${options.orgUrl.replace(/\/+$/, '')}/api/data/${options.apiVersion}/`;
    this.origin = new URL(this.baseUrl).origin;
  }

  /** `pathOrUrl` is relative to the API root, or a link Dataverse gave us (followed verbatim). */
  async getJson<T>(pathOrUrl: string, options: GetOptions = {}): Promise<T> {
    const url = this.resolve(pathOrUrl);
    const { limits, log, breaker, metrics } = this.options;
    const org = new URL(url).host;
    breaker.check();
    let tokenRefreshed = false;
    let forceRefresh = false;
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      const token = await this.options.tokens.getToken({ forceRefresh });
      forceRefresh = false;
      const response = await this.options.gate.run(() => this.send(url, token, options), options.signal);
      metrics.d365Requests.inc({ org, status: response.status ?? 'network' });
      if (response.status !== null && response.status >= 200 && response.status < 300) {
        breaker.success();
        return this.parse<T>(response.text, url);
      }

      const decision = decideRetry(
        { status: response.status, retryAfter: response.retryAfter, attempt, tokenRefreshed, waitedMs, now: Date.now() },
        limits,
        this.options.random,
      );
      if (!decision.retry) {
        if (response.status === null || response.status >= 500 || response.status === 429) breaker.failure();
        throw response.status === null ? upstreamNetworkError(response.error, this.describe(url)) : upstreamErrorFromResponse(response.status, response.text, this.describe(url));
      }
      log.warn({ status: response.status, attempt, waitMs: decision.waitMs, reason: decision.reason, path: new URL(url).pathname }, 'retrying Dataverse request');
      if (decision.pauseAll) {
        this.options.gate.pauseUntil(Date.now() + decision.waitMs);
        metrics.d365Throttled.inc({ org });
        metrics.d365ThrottleWait.inc({ org }, decision.waitMs / 1000);
      }
      if (decision.refreshToken) tokenRefreshed = forceRefresh = true;
      if (decision.waitMs > 0) await sleep(decision.waitMs, undefined, { signal: options.signal });
      waitedMs += decision.waitMs;
    }
  }

  /**
   * Pages of a collection, following `@odata.nextLink` verbatim and resending the same `Prefer` on every page.
   * The next page is requested while the caller works on the current one (two pages in memory at most), so
   * Dataverse's time and the hub's commit overlap. The delta link, when Dataverse gives one, is on the last page.
   */
  async *pages(pathOrUrl: string, options: { maxPageSize: number; trackChanges?: boolean; signal?: AbortSignal }): AsyncGenerator<ODataPage> {
    const prefer = [`odata.maxpagesize=${options.maxPageSize}`];
    if (options.trackChanges) prefer.unshift('odata.track-changes');
    const prefetch = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, prefetch.signal]) : prefetch.signal;
    const request = (url: string) => {
      const page = this.getJson<Record<string, unknown>>(url, { prefer, signal });
      // Awaited below; until then a failure must not count as unhandled.
      page.catch(() => undefined);
      return page;
    };
    let pending: Promise<Record<string, unknown>> | null = request(pathOrUrl);
    try {
      while (pending) {
        const body: Record<string, unknown> = await pending;
        const rows = Array.isArray(body.value) ? (body.value as Record<string, unknown>[]) : [];
        const nextLink = typeof body['@odata.nextLink'] === 'string' ? body['@odata.nextLink'] : null;
        const deltaLink = typeof body['@odata.deltaLink'] === 'string' ? body['@odata.deltaLink'] : null;
        pending = nextLink ? request(nextLink) : null;
        yield { rows, nextLink, deltaLink };
      }
    } finally {
      prefetch.abort();
    }
  }

  private resolve(pathOrUrl: string): string {
    const url = new URL(pathOrUrl, this.baseUrl);
    // Links come from the server; never send the org's bearer token anywhere else.
    if (url.origin !== this.origin) {
      throw new UpstreamError({ status: null, code: null, message: `refusing to follow a link to another host (${url.host})` });
    }
    return url.href;
  }

  private async send(url: string, token: string, options: GetOptions): Promise<RawResponse> {
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.options.dispatcher,
        signal: options.signal,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'odata-version': '4.0',
          'odata-maxversion': '4.0',
          'if-none-match': 'null',
          ...(options.prefer?.length ? { prefer: options.prefer.join(',') } : {}),
        },
      });
      const retryAfter = res.headers['retry-after'];
      return { status: res.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0]! : (retryAfter ?? null), text: await res.body.text() };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return { status: null, retryAfter: null, text: '', error };
    }
  }

  private parse<T>(text: string, url: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new UpstreamError({ status: 200, code: null, message: `invalid JSON from ${this.describe(url)}` }, undefined, { cause: error });
    }
  }

  private describe(url: string): string {
    const { host, pathname } = new URL(url);
    return `${host}${pathname}`;
  }
}
