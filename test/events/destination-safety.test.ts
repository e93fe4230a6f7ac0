import { onTestFinished, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { isPublicAddress, type Resolve } from '../../src/events/destination-address.js';
import { tempDir, testConfig } from '../helpers/build-test-app.js';
import { buildEventsHub, eventsClient, eventsEnv } from '../helpers/events-hub.js';
import { startReceiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/wait.js';

const STRICT = { DESTINATIONS_ALLOW_PRIVATE_NETWORKS: 'false' };

/**
 * A resolver that never asks real DNS: each name answers the addresses queued for it, then 127.0.0.1. So whatever
 * the code under test does, a socket it opens reaches loopback only; a queued public address is only ever checked.
 */
function testResolver(queued: Record<string, string[]>): Resolve & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    if (hostname === 'nowhere.example.test') throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const address = queued[hostname]?.shift() ?? '127.0.0.1';
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  };
  return Object.assign(resolve, { calls });
}

describe('destination address safety', () => {
  it('refuses at creation: other schemes, loopback, private, link-local/metadata addresses, and names resolving to them', async () => {
    const resolve = testResolver({ 'private.example.test': ['10.1.2.3'] });
    const app = await buildEventsHub([], STRICT, resolve);
    const hub = eventsClient(app);
    const refused = async (url: string) => (await hub.create({ type: 'webhook', url }, 400)).error;
    expect(await refused('http://hooks.example.com/x')).toStrictEqual({ code: 'destination_not_allowed', message: 'url must use https (got http).' });
    expect((await refused('ftp://hooks.example.com/x')).code).toBe('destination_not_allowed');
    for (const url of ['https://127.0.0.1/x', 'https://10.0.0.1/x', 'https://169.254.169.254/latest/meta-data', 'https://[::1]/x', 'https://[::ffff:127.0.0.1]/x', 'https://100.100.100.200/x']) {
      expect(await refused(url), url).toMatchObject({ code: 'destination_not_allowed', message: expect.stringContaining('are not allowed (DESTINATIONS_ALLOW_PRIVATE_NETWORKS)') });
    }
    expect(await refused('https://loopback.example.test/x')).toStrictEqual({
      code: 'destination_not_allowed',
      message: 'loopback.example.test resolves to 127.0.0.1: loopback, private, link-local and metadata addresses are not allowed (DESTINATIONS_ALLOW_PRIVATE_NETWORKS).',
    });
    expect((await refused('https://private.example.test/x')).message).toContain('resolves to 10.1.2.3');
    expect(await refused('https://nowhere.example.test/x')).toStrictEqual({ code: 'destination_not_allowed', message: 'nowhere.example.test does not resolve.' });
    expect(await refused('https://user:pw@hooks.example.com/x')).toMatchObject({ code: 'destination_not_allowed' });
    expect(await hub.call('GET', '/destinations', 200)).toStrictEqual({ destinations: [] });
  });

  it('checks again at send time: a name that resolved to a public address at creation and to loopback now is never reached', async () => {
    const receiver = await startReceiver('webhook');
    const port = new URL(receiver.url).port;
    // 8.8.8.8 is answered once, to the creation check; every later lookup (the send's) answers 127.0.0.1.
    const resolve = testResolver({ 'rebind.example.test': ['8.8.8.8'] });
    const app = await buildEventsHub([receiver], STRICT, resolve);
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'webhook', url: `https://rebind.example.test:${port}/hooks/hub` });
    expect(resolve.calls).toStrictEqual(['rebind.example.test']);
    await hub.submit('s-rebind');
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'failed');
    expect((await hub.deliveries(made.id))[0]).toMatchObject({
      attempts: 1,
      last_status: null,
      last_error: 'rebind.example.test resolves to 127.0.0.1: loopback, private, link-local and metadata addresses are not allowed (DESTINATIONS_ALLOW_PRIVATE_NETWORKS).',
    });
    expect(await hub.call('POST', `/destinations/${made.id}:test`, 200)).toMatchObject({ ok: false, status: null, error: expect.stringContaining('resolves to 127.0.0.1') });
    expect(resolve.calls.length).toBeGreaterThanOrEqual(3);
    expect(receiver.received).toStrictEqual([]);
  });

  it('the socket’s own lookup refuses too: a name that passes the send check and then resolves to loopback (rebinding between the two)', async () => {
    const receiver = await startReceiver('webhook');
    const port = new URL(receiver.url).port;
    // Public for the creation check and for the send's check; the connection's own lookup then answers 127.0.0.1.
    const resolve = testResolver({ 'rebind.example.test': ['8.8.8.8', '8.8.8.8'] });
    const app = await buildEventsHub([receiver], STRICT, resolve);
    const hub = eventsClient(app);
    const made = await hub.create({ type: 'webhook', url: `https://rebind.example.test:${port}/hooks/hub` });
    await hub.submit('s-rebind-late');
    await waitFor(async () => (await hub.deliveries(made.id))[0]?.status === 'failed');
    expect((await hub.deliveries(made.id))[0]!.last_error).toBe('rebind.example.test resolves to a refused address (127.0.0.1)');
    expect(resolve.calls).toStrictEqual(['rebind.example.test', 'rebind.example.test', 'rebind.example.test']);
    expect(receiver.received).toStrictEqual([]);
  });

  it('checks an IP address at send time too: a loopback destination made while allowed is refused once the hub no longer allows it', async () => {
    const receiver = await startReceiver('webhook');
    const dir = tempDir();
    const open = async (env: Record<string, string>) => {
      const app = await buildApp(testConfig(eventsEnv(env), dir), { logger: false, extraCa: [receiver.caPem] });
      onTestFinished(() => app.close());
      await app.ready();
      return app;
    };
    const relaxed = await open({});
    const made = await eventsClient(relaxed).create({ type: 'webhook', url: receiver.url });
    await relaxed.close();
    const strict = eventsClient(await open(STRICT));
    await strict.submit('s-ip');
    await waitFor(async () => (await strict.deliveries(made.id))[0]?.status === 'failed');
    expect((await strict.deliveries(made.id))[0]!.last_error).toContain('127.0.0.1 resolves to 127.0.0.1');
    expect(receiver.received).toStrictEqual([]);
  });

  it('calls public unicast only: loopback, private, link-local, CGNAT, unique-local, reserved and mapped forms are not', () => {
    for (const a of ['8.8.8.8', '2606:4700::1111', '1.1.1.1']) expect(isPublicAddress(a), a).toBe(true);
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00:ec2::254', 'fe80::1', '::ffff:10.0.0.1', '::127.0.0.1', '192.0.2.1', '255.255.255.255', 'nonsense']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });
});
