import type { HubEvent } from './event.js';

/** What a chat message says about an event, before a destination type renders it. */
export interface EventSummary {
  title: string;
  text: string;
  fields: Array<{ name: string; value: string }>;
  tone: 'good' | 'warning' | 'danger' | 'info';
}

const str = (value: unknown) => (value === null || value === undefined ? '' : String(value));

export function summarize(event: HubEvent): EventSummary {
  const d = event.data;
  const table = `${str(d.connector)} ${str(d.table)}`.trim();
  const common = [
    { name: 'Tenant', value: event.tenant_id },
    { name: 'Event', value: `${event.type} #${event.sequence}` },
  ];
  switch (event.type) {
    case 'rows.changed':
      return {
        title: `${table} changed for ${event.tenant_id}`,
        text: `${str(d.upserted)} rows upserted, ${str(d.deleted)} deleted (changed_since=${str(d.from_seq)} reads them; up to sequence ${str(d.to_seq)}).`,
        fields: [...common, { name: 'Table', value: table }],
        tone: 'info',
      };
    case 'poll.failed': {
      const error = (d.error ?? {}) as { code?: string; message?: string };
      return {
        title: `Polls of ${table} are failing for ${event.tenant_id}`,
        text: `${str(error.code)}: ${str(error.message)}`,
        fields: [...common, { name: 'Table', value: table }, { name: 'Consecutive failures', value: str(d.consecutive_failures) }],
        tone: 'danger',
      };
    }
    case 'poll.recovered':
      return {
        title: `Polls of ${table} recovered for ${event.tenant_id}`,
        text: `The table polls again after failing for ${str(d.failed_for_seconds)} s.`,
        fields: [...common, { name: 'Table', value: table }],
        tone: 'good',
      };
    case 'submission.delivered':
      return {
        title: `Submission ${str(d.submission_package_id)} delivered`,
        text: `Delivered by ${str(d.route)} to ${str(d.location)} (${str(d.bytes)} bytes, sha256 ${str(d.sha256)}).`,
        fields: [...common, { name: 'Route', value: str(d.route) }],
        tone: 'good',
      };
    case 'submission.failed':
      return {
        title: `Submission ${str(d.submission_package_id)} failed`,
        text: `Dead-lettered after ${str(d.attempts)} attempts: ${str(d.error)}`,
        fields: [...common, { name: 'Route', value: str(d.route) }],
        tone: 'danger',
      };
    case 'hub.test':
      return { title: 'Test event from the integration hub', text: 'This destination receives the hub’s events.', fields: common, tone: 'info' };
  }
}
