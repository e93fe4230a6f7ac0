export interface FaultSpec {
  /** The status to answer; 200 (or none) with `delayMs` only slows the request down. */
  status?: 200 | 400 | 401 | 404 | 429 | 500 | 502 | 503 | 504;
  /** The error body's code and message (defaults per status). */
  code?: string;
  message?: string;
  /** Answer this body as-is with this content type instead of a Dataverse error (a proxy's page, say). */
  rawBody?: { contentType: string; text: string };
  times?: number;
  retryAfterSeconds?: number;
  /** Matched against the request's path and query; every Dataverse request when absent. */
  path?: RegExp;
  delayMs?: number;
}

interface ActiveFault extends FaultSpec {
  remaining: number;
}

/** Failures tests inject into the Dataverse server, consumed by the next matching requests. */
export class FaultInjector {
  private readonly faults: ActiveFault[] = [];

  add(fault: FaultSpec): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  clear(): void {
    this.faults.length = 0;
  }

  take(pathAndQuery: string): FaultSpec | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.path || f.path.test(pathAndQuery)));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining === 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }
}

const THROTTLE_MESSAGE = 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.';

export function faultBody(status: number): { code: string; message: string } {
  if (status === 429) return { code: '0x80072322', message: THROTTLE_MESSAGE };
  if (status === 401) return { code: '', message: '' };
  return { code: '', message: status === 503 ? 'Service Unavailable' : `Sandbox injected fault (HTTP ${status}).` };
}
