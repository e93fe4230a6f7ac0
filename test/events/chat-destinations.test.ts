import { describe, expect, it } from 'vitest';
import { buildEventsHub, eventsClient } from '../helpers/events-hub.js';
import { discordRateLimited, slackRateLimited, startReceiver, type ReceiverKind } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

const masked: Record<Exclude<ReceiverKind, 'webhook'>, RegExp> = {
  slack: /^https:\/\/127\.0\.0\.1:\d+\/services\/\*\*\*\*$/,
  discord: /^https:\/\/127\.0\.0\.1:\d+\/api\/\*\*\*\*$/,
  teams: /^https:\/\/127\.0\.0\.1:\d+\/workflows\/\*\*\*\*$/,
};

describe('chat destinations', () => {
  for (const kind of ['slack', 'discord', 'teams'] as const) {
    it(`${kind}: the message passes the vendor's rules, and the URL (its secret) is shown masked everywhere`, async () => {
      const receiver = await startReceiver(kind);
      const app = await buildEventsHub([receiver]);
      const hub = eventsClient(app);
      const made = await hub.create({ type: kind, url: receiver.url });
      expect(made.url).toMatch(masked[kind]);
      expect(made).not.toHaveProperty('secret');
      expect(JSON.stringify(await hub.call('GET', '/destinations', 200))).not.toContain(new URL(receiver.url).pathname.split('/').at(-1)!);
      // A long error message, to prove the limits hold (Discord's 6 000 characters, Slack's 3 000 per section).
      await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365/submit', payload: { submission_package_id: 'x'.repeat(120), route: 'local', answers: {}, attachments: [] } });
      await waitFor(() => receiver.accepted.length === 1);
      expect(receiver.received).toHaveLength(1);
      const body = JSON.parse(receiver.accepted[0]!.body);
      if (kind === 'slack') expect(body.text).toContain('delivered');
      if (kind === 'discord') expect(body.embeds[0].title).toContain('delivered');
      if (kind === 'teams') expect(body.attachments[0].content.version).toBe('1.4');
      // The receiver has it; the hub records the outcome just after.
      await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'delivered');
      expect((await hub.deliveries(made.id))[0]).toMatchObject({ status: 'delivered', last_status: kind === 'teams' ? 202 : 200 });
      expect(await hub.call('POST', `/destinations/${made.id}:test`, 200)).toStrictEqual({ ok: true, status: kind === 'teams' ? 202 : 200 });
    });
  }

  it('slack: 429 waits its Retry-After, then delivers; invalid_payload fails at once', async () => {
    const receiver = await startReceiver('slack');
    const app = await buildEventsHub([receiver]);
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'slack', url: receiver.url });
    receiver.nextAnswers.push(slackRateLimited(1));
    await hub.submit('s-429');
    await waitFor(() => receiver.accepted.length === 1, { timeoutMs: 10_000 });
    const [limited, sent] = receiver.received;
    expect(limited!.status).toBe(429);
    // The backoff here is 50–200 ms: only the Retry-After explains a second or more between the two (a lower
    // bound, which only a hub that retries too early can miss).
    expect(sent!.at - limited!.at).toBeGreaterThanOrEqual(1000);
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'delivered');
    expect((await hub.deliveries(made.id))[0]).toMatchObject({ status: 'delivered', attempts: 2 });

    receiver.nextAnswers.push({ status: 400, headers: { 'content-type': 'text/plain' }, body: 'invalid_payload' });
    await hub.submit('s-invalid');
    await waitFor(async () => (await hub.deliveries(made.id, 'failed')).length === 1);
    expect((await hub.deliveries(made.id, 'failed'))[0]).toMatchObject({ attempts: 1, last_status: 400, last_error: 'Slack refused the message: invalid_payload' });
  });

  it('discord: 429 waits the body’s retry_after', async () => {
    const receiver = await startReceiver('discord');
    const app = await buildEventsHub([receiver]);
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'discord', url: receiver.url });
    receiver.nextAnswers.push(discordRateLimited(0.8));
    await hub.submit('d-429');
    await waitFor(() => receiver.accepted.length === 1, { timeoutMs: 10_000 });
    // retry_after is 0.8 s, the header says 1: the body's float is the one honoured (a lower bound, as above).
    const [limited, sent] = receiver.received;
    expect(sent!.at - limited!.at).toBeGreaterThanOrEqual(800);
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'delivered');
    expect((await hub.deliveries(made.id))[0]).toMatchObject({ status: 'delivered', attempts: 2, last_status: 200 });
  });
});
