import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { buildEventsHub, eventsClient } from '../helpers/events-hub.js';
import { startReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

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
    const [delivery] = await hub.deliveries(made.id);
    expect(delivery).toMatchObject({ event_id: event.id, event_type: 'submission.delivered', status: 'delivered', attempts: 2, last_status: 204 });
    expect((await hub.events()).map((e) => e.id)).toStrictEqual([event.id]);
  });
});
