import { describe, expect, it } from 'vitest';
import { eventsClient, eventsEnv } from '../helpers/events-hub.js';
import { hubClient } from '../helpers/hub-client.js';
import { startReceiver } from '../helpers/receivers.js';
import { acmeWithTables, buildHubOnSandbox, startTestSandbox } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/wait.js';

describe('events from polls', () => {
  it('a poll that changes rows makes exactly one rows.changed per table, whose range changed_since reads back exactly; no change, no event', async () => {
    const { app, sandbox, hub } = await acmeWithTables(['account', 'contact']);
    const events = eventsClient(app);
    await hub.poll();
    const first = await events.events('type=rows.changed');
    expect(first.map((e) => e.data.table).sort()).toStrictEqual(['account', 'contact']);
    const account = first.find((e) => e.data.table === 'account')!;
    expect(account).toMatchObject({ type: 'rows.changed', tenant_id: 'acme', id: expect.stringMatching(/^evt_[a-f0-9]{32}$/), data: { connector: 'd365', table: 'account', from_seq: 0, deleted: 0 } });
    const all = await hub.allRows('account');
    expect(account.data.upserted).toBe(all.length);

    await hub.poll();
    expect(await events.events(`after=${first.at(-1)!.sequence}`)).toStrictEqual([]);

    const [changed, removed] = sandbox.data.rows('account');
    sandbox.data.updateRow('account', String(changed!.accountid), { name: 'Renamed' });
    sandbox.data.deleteRow('account', String(removed!.accountid));
    await hub.poll();
    const next = await events.events(`after=${first.at(-1)!.sequence}`);
    expect(next).toHaveLength(1);
    expect(next[0]).toMatchObject({ type: 'rows.changed', data: { table: 'account', upserted: 1, deleted: 1, from_seq: account.data.to_seq } });
    const range = await hub.rowsPage('account', `changed_since=${next[0]!.data.from_seq}&include_deleted=true&limit=100`);
    expect(range.rows.map((r) => [r.id, r.deleted]).sort()).toStrictEqual([[String(changed!.accountid), false], [String(removed!.accountid), true]].sort());
    expect(range.sync_seq).toBe(next[0]!.data.to_seq);
  });

  it('a failing table: poll.failed when the streak starts and at 10, never per poll; poll.recovered once when it ends', async () => {
    const { app, sandbox, hub } = await acmeWithTables(['account']);
    const events = eventsClient(app);
    await hub.poll();
    const after = (await events.events()).at(-1)!.sequence;
    sandbox.faults.add({ status: 400, times: 1000, path: /accounts/ } as never);
    for (let i = 0; i < 12; i++) await hub.poll('', 502);
    const failed = await events.events(`after=${after}`);
    expect(failed.map((e) => [e.type, e.data.consecutive_failures])).toStrictEqual([
      ['poll.failed', 1],
      ['poll.failed', 10],
    ]);
    expect(failed[0]!.data).toMatchObject({ connector: 'd365', table: 'account', error: { code: 'd365_error', message: expect.any(String) } });
    sandbox.faults.clear();
    await hub.poll();
    await hub.poll();
    const recovered = await events.events(`after=${failed.at(-1)!.sequence}`);
    expect(recovered.map((e) => e.type)).toStrictEqual(['poll.recovered']);
    expect(recovered[0]!.data).toStrictEqual({ connector: 'd365', table: 'account', failed_for_seconds: expect.any(Number) });
  });

  it('GET /events pages with after and limit, filters by type, and keeps tenants apart', async () => {
    const { app, hub } = await acmeWithTables(['account', 'contact']);
    await hub.poll();
    const events = eventsClient(app);
    const all = await events.events();
    const [one] = await events.events('limit=1');
    expect(one).toStrictEqual(all[0]);
    expect(await events.events(`after=${all[0]!.sequence}`)).toStrictEqual(all.slice(1));
    expect(await events.events('type=poll.failed')).toStrictEqual([]);
    expect(await eventsClient(app, 'globex').events()).toStrictEqual([]);
    await events.call('GET', '/events?type=nope', 400);
    await events.call('GET', '/events?after=-1', 400);
  });

  it('a destination with a tables filter gets rows.changed of those tables only', async () => {
    const receiver = await startReceiver('webhook');
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, eventsEnv(), [], [receiver.caPem]);
    const hub = hubClient(app, 'acme');
    await hub.register(['account', 'contact']);
    const made = await eventsClient(app).create({ type: 'webhook', url: receiver.url, tables: ['contact'], events: ['rows.changed'] });
    receiver.secrets = [made.secret];
    await hub.poll();
    await waitFor(() => receiver.accepted.length === 1);
    expect(JSON.parse(receiver.accepted[0]!.body).data.table).toBe('contact');
    await waitFor(async () => (await eventsClient(app).deliveries(made.id))[0]?.status === 'delivered');
    expect(await eventsClient(app).deliveries(made.id)).toHaveLength(1);
  });
});
