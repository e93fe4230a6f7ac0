import { Webhook } from 'standardwebhooks';
import { httpVerdict, type DestinationKind } from './kind.js';

/** The `webhook-signature` value: `v1,<signature>` per secret, space-separated. */
export function signatureHeader(id: string, at: Date, body: string, secrets: string[]): string {
  return secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(' ');
}

/**
 * Standard Webhooks: the event as the body, signed with every secret that is valid now (the new one and, during
 * a rotation's grace period, the old one), so a receiver holding either verifies it. 410 asks to be disabled.
 */
export const webhook: DestinationKind = {
  type: 'webhook',
  secretUrl: false,
  target: (url) => url,
  render: (event, { secrets, now }) => {
    const body = JSON.stringify(event);
    return {
      body,
      headers: { 'webhook-id': event.id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signatureHeader(event.id, now, body, secrets) },
    };
  },
  verdict: (answer) => {
    const verdict = httpVerdict(answer);
    return answer.status === 410 && !verdict.delivered ? { ...verdict, disable: 'the receiver answered 410 Gone' } : verdict;
  },
};
