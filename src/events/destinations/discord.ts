import { summarize } from '../summary.js';
import { httpVerdict, truncate, type DestinationKind } from './kind.js';

/** [D: https://discord.com/developers/docs/resources/message#embed-object-embed-limits] */
const LIMITS = { title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, total: 6000 };
const COLORS = { good: 0x2eb67d, warning: 0xecb22e, danger: 0xe01e5a, info: 0x1d9bd1 };

/** An embed within Discord's limits, the description giving way first when the sum passes 6 000 characters. */
function embedOf(event: Parameters<typeof summarize>[0]) {
  const s = summarize(event);
  const title = truncate(s.title, LIMITS.title);
  const fields = s.fields.slice(0, LIMITS.fields).map((f) => ({ name: truncate(f.name, LIMITS.fieldName), value: truncate(f.value || '—', LIMITS.fieldValue), inline: true }));
  const used = title.length + fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
  const description = truncate(s.text, Math.min(LIMITS.description, LIMITS.total - used));
  return { title, description, color: COLORS[s.tone], fields, timestamp: event.created_at };
}

/** Execute webhook with ?wait=true (errors come back as JSON); mentions are never parsed from event text. */
export const discord: DestinationKind = {
  type: 'discord',
  secretUrl: true,
  target: (url) => {
    const target = new URL(url);
    target.searchParams.set('wait', 'true');
    return target.toString();
  },
  render: (event) => ({ body: JSON.stringify({ embeds: [embedOf(event)], allowed_mentions: { parse: [] } }), headers: {} }),
  verdict: (answer) => {
    const verdict = httpVerdict(answer);
    if (verdict.delivered || answer.status !== 429) return verdict;
    // The body's retry_after (seconds, a float) is the rate limit's own word. [D: https://discord.com/developers/docs/topics/rate-limits]
    try {
      const seconds = (JSON.parse(answer.body) as { retry_after?: number }).retry_after;
      if (typeof seconds === 'number') return { delivered: false, failure: { ...verdict.failure, retryAfterMs: Math.ceil(seconds * 1000) } };
    } catch {
      // not JSON: the header's Retry-After stands
    }
    return verdict;
  },
};
