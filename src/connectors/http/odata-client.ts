import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { request, type Dispatcher } from 'undici';
import { UpstreamError } from '../../errors.js';
import type { HubMetrics } from '../../metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { RequestGate } from './request-gate.js';
import { decideRetry, type RetryLimits } from './retry-policy.js';
import type { TokenProvider } from './token-provider.js';
import { scanPage, type ScannedPage } from './odata-page-scanner.js';
import { upstreamErrorFromResponse, upstreamNetworkError, type ODataSystem } from './upstream-error.js';

/** A collection page: each row as the service sent it, with the members the caller asked for parsed. */
export type ODataPage = ScannedPage;

/** Members every page reader needs besides the caller's: the markers of a deleted entity (the etag is always read). */
const ALWAYS_READ = ['@odata.context', 'id'];

export interface RequestLimits extends RetryLimits {
  /** One try, headers and body, ends by then (then it counts as a connection failure and may be retried). */
  attemptTimeoutMs: number;
  /** One request, all its tries and waits included, ends by then. */
  deadlineMs: number;
  /** Only named in the error: the agents enforce it. */
  maxResponseBytes: number;
}

export interface ODataClientOptions {
  /** The service root every relative path is resolved against (ends with `/`). */
  baseUrl: string;
  system: ODataSystem & { pageSizeVariable: string };
  /** Headers this source wants on every request (Dataverse: the OData version headers). */
  headers?: Record<string, string>;
  tokens: TokenProvider;
  /** Asked per request, so an agent closed for idleness is never reused. */
  dispatcherFor: (url: string) => Dispatcher;
  /** The host + principal's gate and the host's breaker, shared with every connector using them (asked per request). */
  hostState: () => { gate: RequestGate; breaker: CircuitBreaker };
  limits: RequestLimits;
  metrics: HubMetrics;
  log: Logger;
  random?: () => number;
}

export interface GetOptions {
  prefer?: string[];
  signal?: AbortSignal;
  /** The media type asked for (JSON unless said: `$metadata` is XML). */
  accept?: string;
}

interface RawResponse {
  status: number | null;
  retryAfter: string | null;
  contentType: string | null;
  body: Buffer;
  error?: unknown;
  /** The body passed the response size limit (undici stopped reading it). */
  tooLarge?: boolean;
}

const EMPTY = Buffer.alloc(0);

/** Failures that say the org is in trouble (they open the circuit); any other answer shows the org is up. */
const countsAgainstOrg = (status: number | null) => status === null || status >= 500 || status === 429;

/** JSON over an OData v4 service (Dataverse, Business Central): auth, headers, the request gate, the retry policy and the circuit breaker. */
export class ODataClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private active = 0;

  constructor(private readonly options: ODataClientOptions) {
    this.baseUrl = options.baseUrl;
    this.origin = new URL(this.baseUrl).origin;
  }

  /** Requests in flight or waiting to retry (an idle client may be dropped). */
  get busy(): boolean {
    return this.active > 0;
  }

  /** `pathOrUrl` is relative to the service root, or a link the service gave us (followed verbatim). */
  async getJson<T>(pathOrUrl: string, options: GetOptions = {}): Promise<T> {
    const url = this.resolve(pathOrUrl);
    return this.parse<T>(await this.getText(url, options), url);
  }

  /** The body of a successful answer as text, after the same auth, gate, retries and breaker as any request. */
  async getText(pathOrUrl: string, options: GetOptions = {}): Promise<string> {
    return (await this.getBytes(pathOrUrl, options)).toString('utf8');
  }

  /** The body of a successful answer, as bytes. */
  async getBytes(pathOrUrl: string, options: GetOptions = {}): Promise<Buffer> {
    const url = this.resolve(pathOrUrl);
    const { limits, log, metrics, system } = this.options;
    const org = metrics.orgLabel(new URL(url).host);
    const labels = { connector: system.id, org };
    const { gate, breaker } = this.options.hostState();
    const probe = await breaker.admit();
    const started = Date.now();
    const deadline = AbortSignal.timeout(limits.deadlineMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    // Whether the org gave the breaker a verdict; a probe without one (the caller gave up) lets the next call probe.
    let judged = false;
    const verdict = (failed: boolean) => {
      judged = true;
      if (failed) breaker.failure();
      else breaker.success();
    };
    this.active++;
    try {
      let rejected: string | undefined;
      let tokenRefreshed = false;
      let waitedMs = 0;
      for (let attempt = 1; ; attempt++) {
        const token = await this.options.tokens.getToken({ rejected });
        rejected = undefined;
        const response = await gate.run(() => this.send(url, token, options, signal), signal);
        metrics.upstreamRequests.inc({ ...labels, status: response.status ?? 'network' });
        if (response.tooLarge) {
          verdict(false);
          throw new UpstreamError(system, {
            status: null,
            code: 'response_too_large',
            message: `the answer from ${this.describe(url)} is larger than D365_MAX_RESPONSE_MB (${Math.round(limits.maxResponseBytes / 1048576)} MB); lower ${system.pageSizeVariable} or raise the limit`,
          });
        }
        if (response.status !== null && response.status >= 200 && response.status < 300) {
          verdict(false);
          return response.body;
        }

        const decision = decideRetry(
          { status: response.status, retryAfter: response.retryAfter, attempt, tokenRefreshed, waitedMs, remainingMs: limits.deadlineMs - (Date.now() - started), now: Date.now() },
          limits,
          this.options.random,
        );
        if (!decision.retry) {
          verdict(countsAgainstOrg(response.status));
          throw response.status === null
            ? upstreamNetworkError(system, response.error, this.describe(url))
            : upstreamErrorFromResponse(system, response.status, response.body.toString('utf8'), this.describe(url), response.contentType);
        }
        log.warn({ status: response.status, attempt, waitMs: decision.waitMs, reason: decision.reason, path: new URL(url).pathname }, `retrying ${system.name} request`);
        if (decision.pauseAll) {
          gate.pauseUntil(Date.now() + decision.waitMs);
          metrics.upstreamThrottled.inc(labels);
          metrics.upstreamThrottleWait.inc(labels, decision.waitMs / 1000);
        }
        if (decision.refreshToken) {
          tokenRefreshed = true;
          rejected = token;
        }
        if (decision.waitMs > 0) await sleep(decision.waitMs, undefined, { signal });
        waitedMs += decision.waitMs;
      }
    } catch (error) {
      if (deadline.aborted && !options.signal?.aborted && !(error instanceof UpstreamError)) {
        verdict(true);
        throw new UpstreamError(system, {
          status: null,
          code: 'deadline_exceeded',
          message: `no answer from ${this.describe(url)} within ${limits.deadlineMs / 1000} s, retries included (D365_REQUEST_DEADLINE_SECONDS)`,
        });
      }
      throw error;
    } finally {
      this.active--;
      if (!judged) breaker.release(probe);
    }
  }

  /**
   * Pages of a collection, following `@odata.nextLink` verbatim and resending the same `Prefer` on every page.
   * Rows stay the text the service sent; only `fields` (and the etag and deleted-entity markers) are parsed.
   * The next page is requested while the caller works on the current one (two pages in memory at most), so
   * the service's time and the hub's commit overlap. The delta link, when the service gives one, is on the last page.
   */
  async *pages(pathOrUrl: string, options: { maxPageSize: number; fields: string[]; trackChanges?: boolean; signal?: AbortSignal }): AsyncGenerator<ODataPage> {
    const prefer = [`odata.maxpagesize=${options.maxPageSize}`];
    if (options.trackChanges) prefer.unshift('odata.track-changes');
    const fields = [...new Set([...options.fields, ...ALWAYS_READ])];
    const prefetch = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, prefetch.signal]) : prefetch.signal;
    const request = (url: string) => {
      const page = this.getBytes(url, { prefer, signal }).then((bytes) => scanPage(bytes, fields) ?? this.parsePage(bytes.toString('utf8'), fields, this.resolve(url)));
      // Awaited below; until then a failure must not count as unhandled.
      page.catch(() => undefined);
      return page;
    };
    let pending: Promise<ODataPage> | null = request(pathOrUrl);
    try {
      while (pending) {
        const page: ODataPage = await pending;
        pending = page.nextLink ? request(page.nextLink) : null;
        yield page;
      }
    } finally {
      prefetch.abort();
    }
  }

  /** A page the scanner could not read (not the usual shape, or not JSON): parsed whole, rows written back as JSON. */
  private parsePage(text: string, fields: string[], url: string): ODataPage {
    const body = this.parse<Record<string, unknown>>(text, url);
    const values = Array.isArray(body.value) ? (body.value as unknown[]) : [];
    const rows = values
      .filter((value): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value))
      .map((value) => {
        const { '@odata.etag': etag, ...columns } = value;
        return { data: JSON.stringify(columns), etag: typeof etag === 'string' ? etag : null, fields: Object.fromEntries(fields.filter((f) => f in value).map((f) => [f, value[f]])) };
      });
    const link = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : null);
    return { rows, nextLink: link('@odata.nextLink'), deltaLink: link('@odata.deltaLink') };
  }

  private resolve(pathOrUrl: string): string {
    const url = new URL(pathOrUrl, this.baseUrl);
    // Links come from the server; never send the org's bearer token anywhere else.
    if (url.origin !== this.origin) {
      throw new UpstreamError(this.options.system, { status: null, code: null, message: `refusing to follow a link to another host (${url.host})` });
    }
    return url.href;
  }

  private async send(url: string, token: string, { prefer, accept }: GetOptions, signal: AbortSignal): Promise<RawResponse> {
    const { limits } = this.options;
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.options.dispatcherFor(url),
        signal: AbortSignal.any([signal, AbortSignal.timeout(limits.attemptTimeoutMs)]),
        headers: {
          authorization: `Bearer ${token}`,
          accept: accept ?? 'application/json',
          ...this.options.headers,
          ...(prefer?.length ? { prefer: prefer.join(',') } : {}),
        },
      });
      const header = (name: string) => {
        const value = res.headers[name];
        return Array.isArray(value) ? value[0]! : (value ?? null);
      };
      return { status: res.statusCode, retryAfter: header('retry-after'), contentType: header('content-type'), body: Buffer.from(await res.body.arrayBuffer()) };
    } catch (error) {
      if ((error as { code?: unknown })?.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return { status: null, retryAfter: null, contentType: null, body: EMPTY, tooLarge: true };
      // The caller gave up (shutdown) or the deadline passed: no retry. A try that timed out by itself is retried.
      if (signal.aborted) throw error;
      return { status: null, retryAfter: null, contentType: null, body: EMPTY, error };
    }
  }

  private parse<T>(text: string, url: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new UpstreamError(this.options.system, { status: 200, code: null, message: `invalid JSON from ${this.describe(url)}` }, undefined, { cause: error });
    }
  }

  private describe(url: string): string {
    const { host, pathname } = new URL(url);
    return `${host}${pathname}`;
  }
}
