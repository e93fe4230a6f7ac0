import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { onTestFinished } from 'vitest';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../helpers/build-test-app.js';
import { buildEventsHub, eventsClient, eventsEnv } from '../helpers/events-hub.js';
import { peekStore } from '../helpers/store-peek.js';
import { startReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

/** A webhook receiver, a hub trusting it, and a destination to it whose secret the receiver verifies with. */
async function webhookSetup(env: Record<string, string> = {}) {
  const receiver = await startReceiver('webhook');
  const app = await buildEventsHub([receiver], env);
  const hub = eventsClient(app);
  const made = await hub.create({ type: 'webhook', url: receiver.url });
  receiver.secrets = [made.secret];
  return { receiver, app, hub, made };
}

describe('webhook destinations', () => {
  it('shows the whsec_ secret once, signs every event with it (verified by standardwebhooks), and keeps webhook-id across retries', async () => {
    const receiver = await startReceiver('webhook');
    const app = await buildEventsHub([receiver]);
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'webhook', url: receiver.url, description: 'product API' });
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(made).toMatchObject({ type: 'webhook', url: receiver.url, enabled: true, events: null, tables: null, description: 'product API' });
    receiver.secrets = [made.secret];
    const listed = await hub.call('GET', '/destinations', 200);
    expect(listed.destinations).toStrictEqual([{ ...made, secret: undefined }].map(({ secret: _s, ...d }) => d));
    expect(JSON.stringify(listed)).not.toContain(made.secret.slice(6));

    receiver.nextAnswers.push({ status: 503, headers: { 'retry-after': '0' } });
    expect((await hub.submit('s-1')).statusCode).toBe(200);
    await waitFor(() => receiver.accepted.length === 1);
    const [first, second] = receiver.received;
    expect(first!.status).toBe(503);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    const event = new Webhook(made.secret).verify(second!.body, second!.headers as Record<string, string>) as Record<string, any>;
    expect(event).toMatchObject({ type: 'submission.delivered', tenant_id: 'acme', data: { submission_package_id: 's-1', route: 'local' } });
    expect(event.id).toBe(second!.headers['webhook-id']);
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'delivered');
    const [delivery] = await hub.deliveries(made.id);
    expect(delivery).toMatchObject({ event_id: event.id, event_type: 'submission.delivered', status: 'delivered', attempts: 2, last_status: 204 });
    expect((await hub.events()).map((e) => e.id)).toStrictEqual([event.id]);
  });

  it('a receiver down for a while gets the event once when it is back', async () => {
    const { receiver, app, hub, made } = await webhookSetup();
    await receiver.down();
    await hub.submit('s-down');
    await waitFor(async () => {
      const [d] = await hub.deliveries(made.id);
      return d !== undefined && d.attempts >= 2 && d.status === 'pending_retry';
    });
    expect((await hub.deliveries(made.id))[0]).toMatchObject({ status: 'pending_retry', last_status: null, last_error: expect.stringMatching(/^no answer: .*ECONNREFUSED/) });
    await receiver.up();
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'delivered');
    expect(receiver.accepted).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('a permanent refusal fails at once; :retry sends a dead letter again as a new series', async () => {
    const { receiver, app, hub, made } = await webhookSetup();
    receiver.nextAnswers.push({ status: 400, body: 'unknown event' });
    await hub.submit('s-refused');
    await waitFor(async () => (await hub.deliveries(made.id, 'failed')).length === 1);
    const [dead] = await hub.deliveries(made.id, 'failed');
    expect(dead).toMatchObject({ status: 'failed', attempts: 1, last_status: 400, last_error: 'receiver answered 400: unknown event', next_attempt_at: null });
    expect(receiver.received).toHaveLength(1);
    const retried = await hub.call('POST', `/destinations/${made.id}/deliveries/${dead!.id}:retry`, 202);
    expect(retried).toMatchObject({ id: dead!.id, status: 'delivered', attempts: 1, last_status: 204, last_error: null });
    expect(receiver.accepted).toHaveLength(1);
    await hub.call('POST', `/destinations/${made.id}/deliveries/dlv_${'0'.repeat(32)}_9:retry`, 404);
  });

  it('dead-letters after DESTINATION_MAX_ATTEMPTS answers of 500', async () => {
    const receiver = await startReceiver('webhook');
    const app = await buildEventsHub([receiver], { DESTINATION_MAX_ATTEMPTS: '3' });
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'webhook', url: receiver.url });
    receiver.nextAnswers.push({ status: 500 }, { status: 502 }, { status: 500 });
    await hub.submit('s-500');
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'failed');
    expect((await hub.deliveries(made.id))[0]).toMatchObject({ attempts: 3, last_status: 500 });
    expect(receiver.received.map((r) => r.status)).toStrictEqual([500, 502, 500]);
  });

  it('410 Gone disables the destination; PATCH {"enabled": true} enables it and the delivery goes out', async () => {
    const { receiver, app, hub, made } = await webhookSetup();
    receiver.nextAnswers.push({ status: 410 });
    await hub.submit('s-gone-1');
    await waitFor(async () => (await hub.call('GET', `/destinations/${made.id}`, 200)).enabled === false);
    expect(await hub.call('GET', `/destinations/${made.id}`, 200)).toMatchObject({ enabled: false, disabled_reason: 'the receiver answered 410 Gone' });
    await hub.submit('s-gone-2');
    // A disabled destination still gets its deliveries made; they wait until it is enabled.
    await waitFor(async () => (await hub.deliveries(made.id)).length === 2);
    // The refused one is not dead: it waits with the rest until the destination is enabled again.
    expect((await hub.deliveries(made.id)).map((d) => d.status)).toStrictEqual(['pending', 'pending_retry']);
    expect(receiver.received).toHaveLength(1);
    expect(await hub.call('PATCH', `/destinations/${made.id}`, 200, { enabled: true })).toMatchObject({ enabled: true, disabled_reason: null });
    await waitFor(() => receiver.accepted.length === 2);
    expect(receiver.accepted.map((r) => JSON.parse(r.body).data.submission_package_id)).toStrictEqual(['s-gone-1', 's-gone-2']);
  });

  it('sends only the event types and tables a destination asks for, and only events made after it', async () => {
    const all = await startReceiver('webhook');
    const onlyFailed = await startReceiver('webhook');
    const app = await buildEventsHub([all, onlyFailed]);
    const hub = eventsClient(app);
    await hub.submit('before');
    const a = await hub.create({ type: 'webhook', url: all.url, tables: ['account'] });
    const f = await hub.create({ type: 'webhook', url: onlyFailed.url, events: ['submission.failed'] });
    all.secrets = [a.secret];
    onlyFailed.secrets = [f.secret];
    await hub.submit('after');
    await waitFor(() => all.accepted.length === 1);
    expect(JSON.parse(all.accepted[0]!.body).data.submission_package_id).toBe('after');
    expect(await hub.deliveries(f.id)).toStrictEqual([]);
    expect(onlyFailed.received).toHaveLength(0);
    await hub.create({ type: 'webhook', url: all.url, events: ['rows.changed', 'no.such'] }, 400);
  });

  it(':rotate-secret shows a new secret once; during the grace period both sign, after it only the new one', async () => {
    const receiver = await startReceiver('webhook');
    const app = await buildEventsHub([receiver], { DESTINATION_SECRET_GRACE_HOURS: '1' });
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'webhook', url: receiver.url });
    const rotated = await hub.call('POST', `/destinations/${made.id}:rotate-secret`, 200);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(made.secret);
    receiver.secrets = [made.secret];
    await hub.submit('s-old-secret');
    await waitFor(() => receiver.accepted.length === 1);
    const signatures = (receiver.accepted[0]!.headers['webhook-signature'] as string).split(' ');
    expect(signatures).toHaveLength(2);
    expect(() => new Webhook(rotated.secret).verify(receiver.accepted[0]!.body, receiver.accepted[0]!.headers as Record<string, string>)).not.toThrow();

    const noGrace = await buildEventsHub([receiver], { DESTINATION_SECRET_GRACE_HOURS: '0' });
    const other = eventsClient(noGrace);
    const second = await other.create({ type: 'webhook', url: receiver.url });
    const fresh = await other.call('POST', `/destinations/${second.id}:rotate-secret`, 200);
    receiver.secrets = [fresh.secret];
    await other.submit('s-new-secret');
    await waitFor(() => receiver.accepted.length === 2);
    expect((receiver.accepted[1]!.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    const slack = await other.create({ type: 'slack', url: 'https://127.0.0.1:9/services/x' });
    expect(await other.call('POST', `/destinations/${slack.id}:rotate-secret`, 400)).toStrictEqual({
      error: { code: 'not_a_webhook', message: `Destination '${slack.id}' is a slack destination; only webhook destinations have a signing secret.` },
    });
  });

  it(':test sends a hub.test event now and answers whether the receiver took it', async () => {
    const { receiver, app, hub, made } = await webhookSetup();
    expect(await hub.call('POST', `/destinations/${made.id}:test`, 200)).toStrictEqual({ ok: true, status: 204 });
    expect(JSON.parse(receiver.accepted[0]!.body)).toMatchObject({ type: 'hub.test', tenant_id: 'acme' });
    receiver.secrets = [];
    expect(await hub.call('POST', `/destinations/${made.id}:test`, 200)).toStrictEqual({ ok: false, status: 401, error: 'receiver answered 401: bad signature' });
    await receiver.down();
    // The first try may meet the keep-alive socket the receiver just closed; the next one finds nobody listening.
    expect(await hub.call('POST', `/destinations/${made.id}:test`, 200)).toMatchObject({ ok: false, status: null, error: expect.stringMatching(/^no answer: /) });
    expect(await hub.call('POST', `/destinations/${made.id}:test`, 200)).toMatchObject({ ok: false, status: null, error: expect.stringMatching(/^no answer: .*ECONNREFUSED/) });
    expect(await hub.deliveries(made.id)).toStrictEqual([]);
  });

  it('answers clear errors for unknown destinations, bad bodies, and a hub without HUB_SECRET_KEY', async () => {
    const receiver = await startReceiver('webhook');
    const app = await buildEventsHub([receiver]);
    const hub = eventsClient(app);
    const missing = `dst_${'a'.repeat(32)}`;
    expect(await hub.call('GET', `/destinations/${missing}`, 404)).toStrictEqual({ error: { code: 'destination_not_found', message: `Tenant 'acme' has no destination '${missing}'.` } });
    await hub.call('DELETE', `/destinations/${missing}`, 404);
    await hub.call('GET', '/destinations/nope', 400);
    await hub.create({ type: 'pager', url: receiver.url }, 400);
    await hub.create({ type: 'webhook', url: receiver.url, extra: 1 }, 400);
    const made = await hub.create({ type: 'webhook', url: receiver.url });
    expect(await eventsClient(app, 'globex').call('GET', `/destinations/${made.id}`, 404)).toMatchObject({ error: { code: 'destination_not_found' } });
    await hub.call('DELETE', `/destinations/${made.id}`, 204);
    await hub.call('GET', `/destinations/${made.id}`, 404);

    const keyless = await buildEventsHub([receiver], { HUB_SECRET_KEY: '' });
    expect(await eventsClient(keyless).create({ type: 'webhook', url: receiver.url }, 503)).toMatchObject({ error: { code: 'secret_key_not_configured' } });
  });

  it('one hanging receiver never delays another destination; it gets its events once it answers again', async () => {
    const hanging = await startReceiver('webhook');
    const healthy = await startReceiver('webhook');
    const app = await buildEventsHub([hanging, healthy], { DESTINATION_TIMEOUT_SECONDS: '30' });
    const hub = eventsClient(app);
    const stuck = await hub.create({ type: 'webhook', url: hanging.url });
    const fine = await hub.create({ type: 'webhook', url: healthy.url });
    hanging.secrets = [stuck.secret];
    healthy.secrets = [fine.secret];
    hanging.holding = true;
    for (let i = 0; i < 5; i++) await hub.submit(`s-${i}`);
    await waitFor(() => healthy.accepted.length === 5);
    // All five reached the healthy receiver while the other still holds its first request unanswered.
    expect(hanging.held).toBe(1);
    expect(hanging.received).toHaveLength(0);
    hanging.release();
    await waitFor(() => hanging.accepted.length === 5);
    expect(hanging.accepted.map((r) => JSON.parse(r.body).data.submission_package_id)).toStrictEqual(['s-0', 's-1', 's-2', 's-3', 's-4']);
  });

  it('metrics: deliveries by type and outcome, delivery time, outbox depth and oldest age per destination', async () => {
    const { receiver, app, hub, made } = await webhookSetup();
    await receiver.down();
    await hub.submit('m-1');
    const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
    // attempts counts from the claim; the outcome (and its metric) is recorded when the attempt ends.
    await waitFor(async () => /outcome="pending_retry"\} [1-9]/.test(await metrics()));
    const during = await metrics();
    expect(during).toContain(`hub_event_outbox_depth{destination="${made.id}"} 1`);
    expect(during).toMatch(new RegExp(`hub_event_outbox_oldest_seconds\\{destination="${made.id}"\\} \\d`));
    expect(during).toMatch(/hub_event_deliveries_total\{type="webhook",outcome="pending_retry"\} [1-9]/);
    await receiver.up();
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'delivered');
    await waitFor(async () => (await metrics()).includes('outcome="delivered"} 1'));
    const after = await metrics();
    expect(after).toContain('hub_event_deliveries_total{type="webhook",outcome="delivered"} 1');
    expect(after).toMatch(/hub_event_delivery_seconds_count\{type="webhook"\} [2-9]/);
    expect(after).not.toContain(`hub_event_outbox_depth{destination="${made.id}"}`);
  });

  it('a destination that fails 5 times in a row rests (its circuit opens) instead of being retried on every backoff', async () => {
    const { receiver, hub, made } = await webhookSetup();
    receiver.nextAnswers.push(...Array.from({ length: 50 }, () => ({ status: 500 })));
    await hub.submit('c-1');
    await waitFor(() => receiver.received.length >= 5);
    // The backoff here is 50–200 ms: without the breaker, a second would bring several more attempts.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(receiver.received).toHaveLength(5);
    expect((await hub.deliveries(made.id))[0]).toMatchObject({ status: 'pending_retry', attempts: 5, last_status: 500 });
  });

  it('keeps the URL and the signing secret sealed at rest', async () => {
    const config = testConfig(eventsEnv());
    const receiver = await startReceiver('webhook');
    const app = await buildApp(config, { logger: false, extraCa: [receiver.caPem] });
    onTestFinished(() => app.close());
    const made = await eventsClient(app).create({ type: 'webhook', url: receiver.url });
    const [stored] = await peekStore(config, 'SELECT url, url_masked, secret FROM destinations WHERE id = ?', [made.id]);
    expect(String(stored!.url)).toMatch(/^v1\./);
    expect(String(stored!.secret)).toMatch(/^v1\./);
    expect(JSON.stringify(stored)).not.toContain(made.secret.slice(6, 20));
    expect(String(stored!.url)).not.toContain('/hooks/hub');
  });

  it('a delivery waiting out a Retry-After holds the destination’s later events: they arrive in order', async () => {
    const { receiver, hub } = await webhookSetup();
    receiver.nextAnswers.push({ status: 429, headers: { 'retry-after': '1' } });
    await hub.submit('o-1');
    await waitFor(() => receiver.received.length === 1);
    await hub.submit('o-2');
    await hub.submit('o-3');
    await waitFor(() => receiver.accepted.length === 3);
    expect(receiver.received.map((r) => [JSON.parse(r.body).data.submission_package_id, r.status])).toStrictEqual([
      ['o-1', 429],
      ['o-1', 204],
      ['o-2', 204],
      ['o-3', 204],
    ]);
  });
});
