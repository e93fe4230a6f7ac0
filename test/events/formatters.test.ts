import { describe, expect, it } from 'vitest';
import { DESTINATION_KINDS } from '../../src/events/destinations/index.js';
import { signatureHeader } from '../../src/events/destinations/webhook.js';
import type { HubEvent } from '../../src/events/event.js';
import { discordAnswer, slackAnswer, teamsAnswer } from '../helpers/receivers.js';

const long = 'ü'.repeat(10_000);
/** Every event type, with text far past every vendor limit, and markup that must stay inert. */
const events: HubEvent[] = [
  { type: 'rows.changed', data: { connector: 'd365', table: 'account', upserted: 3, deleted: 1, from_seq: 10, to_seq: 12 } },
  { type: 'poll.failed', data: { connector: 'bc', table: 'customers', error: { code: 'bc_error', message: `<!channel> @everyone ${long}` }, consecutive_failures: 10 } },
  { type: 'poll.recovered', data: { connector: 'd365', table: 'account', failed_for_seconds: 3600 } },
  { type: 'submission.delivered', data: { submission_package_id: 'p'.repeat(128), route: 'sftp', location: `sftp://h/${long}`, sha256: 'a'.repeat(64), bytes: 10 } },
  { type: 'submission.failed', data: { submission_package_id: 'p-1', route: 'email', attempts: 8, error: long } },
  { type: 'hub.test', data: {} },
].map((e, i) => ({ id: `evt_${i}`, tenant_id: 'acme', sequence: i + 1, created_at: '2026-12-03T12:00:00.000Z', ...e }) as HubEvent);

const render = (type: 'slack' | 'discord' | 'teams', event: HubEvent) => JSON.parse(DESTINATION_KINDS[type].render(event, { secrets: [], now: new Date() }).body);

describe('chat formatters against the vendors’ rules', () => {
  for (const event of events) {
    it(`${event.type}: Slack, Discord and Teams accept it`, () => {
      expect(slackAnswer(render('slack', event))).toMatchObject({ status: 200, body: 'ok' });
      expect(discordAnswer(render('discord', event), '/api/webhooks/1/x?wait=true')).toMatchObject({ status: 200 });
      expect(teamsAnswer(render('teams', event))).toStrictEqual({ status: 202 });
    });
  }

  it('keeps event text from pinging or linking: Slack mrkdwn escaped, Discord mentions never parsed', () => {
    const failed = events[1]!;
    expect(JSON.stringify(render('slack', failed)).includes('<!channel>')).toBe(false);
    expect(render('discord', failed).allowed_mentions).toStrictEqual({ parse: [] });
  });

  it('the receivers refuse what the vendors refuse (so the tests above can fail)', () => {
    expect(slackAnswer({ text: '' })).toMatchObject({ status: 400, body: 'no_text' });
    expect(slackAnswer({ text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }] })).toMatchObject({ status: 400, body: 'invalid_payload' });
    expect(discordAnswer({ embeds: [{ title: 'x'.repeat(257), color: 1 }], allowed_mentions: { parse: [] } }, '?wait=true').status).toBe(400);
    expect(discordAnswer({ embeds: [{ title: 't', description: 'x'.repeat(4096), color: 1, fields: [{ name: 'n', value: 'v'.repeat(1024) }, { name: 'n', value: 'v'.repeat(1024) }] }], allowed_mentions: { parse: [] } }, '?wait=true').status).toBe(400);
    expect(discordAnswer({ embeds: [{ title: 't', color: 1 }] }, '?wait=true').status).toBe(400);
    const card = render('teams', events[0]!);
    card.attachments[0].content.version = '1.2';
    expect(teamsAnswer(card).status).toBe(400);
    card.attachments[0].content.version = '1.4';
    card.attachments[0].content.body.push({ type: 'NoSuchElement' });
    expect(teamsAnswer(card).status).toBe(400);
  });
});

describe('Standard Webhooks signature', () => {
  // The reference test vector of Standard Webhooks [R: standard-webhooks/standard-webhooks:libraries/javascript/src/
  // webhook.test.ts, "sign function works"; the same values are in the other reference libraries' tests]: a fixed
  // answer, not a round trip through the package's own verify, so a misreading shared by signer and verifier would show.
  it('reproduces the reference signature, and signs with each secret during a rotation', () => {
    const at = new Date(1614265330 * 1000);
    const body = '{"test": 2432232314}';
    expect(signatureHeader('msg_p5jXN8AQM9LWM0D4loKWxJek', at, body, ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'])).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const two = signatureHeader('msg_p5jXN8AQM9LWM0D4loKWxJek', at, body, ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', `whsec_${Buffer.alloc(32, 7).toString('base64')}`]);
    expect(two.split(' ')).toHaveLength(2);
    expect(two.startsWith('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,')).toBe(true);
  });
});

