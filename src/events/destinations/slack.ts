import { summarize } from '../summary.js';
import { httpVerdict, truncate, type DestinationKind } from './kind.js';

/** Slack's error strings that no retry will change. [D: https://api.slack.com/messaging/webhooks#handling_errors] */
const PERMANENT = new Set(['invalid_payload', 'no_text', 'channel_not_found', 'channel_is_archived', 'no_service', 'no_service_id', 'no_team', 'team_disabled', 'action_prohibited', 'invalid_token', 'user_not_found', 'posting_to_general_channel_denied']);

/** mrkdwn treats &, < and > as markup. */
const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Incoming webhook: a plain `text` (the notification) and Block Kit blocks within Slack's limits. */
export const slack: DestinationKind = {
  type: 'slack',
  secretUrl: true,
  target: (url) => url,
  render: (event) => {
    const s = summarize(event);
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: truncate(s.title, 150), emoji: false } },
      { type: 'section', text: { type: 'mrkdwn', text: truncate(escape(s.text), 3000) } },
      { type: 'section', fields: s.fields.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: truncate(`*${escape(f.name)}*\n${escape(f.value)}`, 2000) })) },
    ];
    return { body: JSON.stringify({ text: truncate(escape(`${s.title}: ${s.text}`), 3000), blocks }), headers: {} };
  },
  verdict: (answer) => {
    const code = answer.body.trim();
    if (answer.status >= 400 && PERMANENT.has(code)) return { delivered: false, failure: { message: `Slack refused the message: ${code}`, status: answer.status, permanent: true } };
    return httpVerdict(answer);
  },
};
