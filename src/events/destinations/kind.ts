import type { AttemptFailure } from '../../outbox/outbox.js';
import type { DestinationType } from '../../store/destinations-repository.js';
import type { ReceiverAnswer } from '../destination-client.js';
import type { HubEvent } from '../event.js';

/** What a destination type answers about a receiver's answer. */
export type Verdict = { delivered: true } | { delivered: false; failure: AttemptFailure; disable?: string };

/** One destination type: how an event goes on its wire and what its receiver's answers mean. */
export interface DestinationKind {
  type: DestinationType;
  /** The URL itself is the credential (chat webhooks): answers show it masked. */
  secretUrl: boolean;
  /** Where to POST (Discord asks with ?wait=true to get errors back). */
  target(url: string): string;
  render(event: HubEvent, context: { secrets: string[]; now: Date }): { body: string; headers: Record<string, string> };
  verdict(answer: ReceiverAnswer): Verdict;
}

/** Seconds or an HTTP date, as Retry-After allows; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text.trim())) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const describe = (answer: ReceiverAnswer) => `receiver answered ${answer.status}${answer.body ? `: ${answer.body.slice(0, 200)}` : ''}`;

/**
 * The contract's retry rules on HTTP alone: 2xx delivered; 429 and 503 wait their Retry-After; 408 and other 5xx
 * back off; redirects (never followed) and the other 4xx are refusals for good.
 */
export function httpVerdict(answer: ReceiverAnswer): Verdict {
  const { status } = answer;
  if (status >= 200 && status < 300) return { delivered: true };
  const failure = { message: describe(answer), status };
  if (status === 429 || status === 503) return { delivered: false, failure: { ...failure, retryAfterMs: retryAfterMs(answer.headers['retry-after']) } };
  if (status === 408 || status >= 500) return { delivered: false, failure };
  if (status >= 300 && status < 400) return { delivered: false, failure: { ...failure, message: `${failure.message} (redirects are not followed)`, permanent: true } };
  return { delivered: false, failure: { ...failure, permanent: true } };
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
