import { describe, expect, it } from 'vitest';
import { MAX_LINK_REFUSALS } from '../../src/poller/poll-service.js';
import { hubClient } from '../helpers/hub-client.js';
import { acmeWithTables, buildHubOnSandbox, startTestSandbox } from '../helpers/sandbox.js';

describe('poller hardening', () => {
  it('reads a table afresh after its stored delta link was refused for good a few polls in a row', async () => {
    const { sandbox, hub } = await acmeWithTables(['contact']);
    await hub.poll();
    const [gone] = sandbox.data.rows('contact');
    sandbox.data.deleteRow('contact', String(gone!.contactid));
    sandbox.faults.add({ status: 400, code: '0x80040203', message: 'Invalid $deltatoken.', times: 100, path: /\$deltatoken=/ });

    for (let i = 1; i <= MAX_LINK_REFUSALS; i++) {
      const failed = await hub.poll('', 502);
      expect(failed.tables[0]).toMatchObject({ outcome: 'error', error: { code: 'd365_error' } });
    }
    const healed = await hub.poll();
    expect(healed.tables[0]).toMatchObject({ outcome: 'ok', mode: 'delta', deleted: 1, upserted: 0 });
    expect((await hub.status()).tables[0]).toMatchObject({
      full_resyncs: 1,
      last_resync_reason: expect.stringMatching(/^the stored delta link was refused 3 times \(Dynamics 365 request failed: Invalid \$deltatoken\.\)$/),
    });
    // The new delta link is not refused (the fault matches only the old token's requests it is given).
    sandbox.faults.clear();
    expect((await hub.poll()).tables[0]).toMatchObject({ outcome: 'ok', pages: 1, upserted: 0 });
  });

  it('mirrors a row committed late with a modifiedon before the watermark, within POLL_LOOKBACK_SECONDS', async () => {
    const table = 'cr83d_supplierquote';
    const { sandbox, hub } = await acmeWithTables([table], { POLL_LOOKBACK_SECONDS: '300' });
    sandbox.data.setNow(new Date('2030-01-01T10:00:00Z'));
    sandbox.data.createRow(table, { cr83d_name: 'Watermark' });
    await hub.poll();

    // A transaction that began at 09:58 commits only now: its rows carry the earlier stamp.
    const late = sandbox.data.createRow(table, { cr83d_name: 'Committed late' }, { modifiedon: '2030-01-01T09:58:00Z' });
    const tooLate = sandbox.data.createRow(table, { cr83d_name: 'Beyond the look-back' }, { modifiedon: '2030-01-01T09:50:00Z' });
    const res = await hub.poll();
    // The re-read window holds the watermark row too, unchanged: neither rewritten nor counted.
    expect(res.tables[0]).toMatchObject({ outcome: 'ok', upserted: 1, deleted: 0 });
    const ids = (await hub.allRows(table)).map((r) => r.id);
    expect(ids).toContain(late.cr83d_supplierquoteid);
    expect(ids).not.toContain(tooLate.cr83d_supplierquoteid);
    sandbox.data.setNow(null);
  });

  it('answers a clear 502 when an answer passes D365_MAX_RESPONSE_MB, without retrying it', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable('cr83d_employee', 4000, { seed: 2 });
    const { app } = await buildHubOnSandbox(sandbox, { D365_MAX_RESPONSE_MB: '1' });
    const hub = hubClient(app, 'acme');
    await hub.register(['cr83d_employee']);
    const before = sandbox.requests.filter((r) => r.url.includes('cr83d_employees')).length;
    const res = await hub.poll('', 502);
    expect(res.tables[0]).toMatchObject({
      outcome: 'error',
      error: { code: 'd365_error', message: expect.stringContaining('larger than D365_MAX_RESPONSE_MB (1 MB); lower D365_PAGE_SIZE or raise the limit') },
    });
    expect(sandbox.requests.filter((r) => r.url.includes('cr83d_employees')).length - before).toBe(1);
  });

  it('never reflects the body of an answer that is not a Dataverse error', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_MAX_ATTEMPTS: '1' });
    const page = '<html><body>Internal proxy 10.1.2.3 session=abc123 stack trace at Foo.bar()</body></html>';
    sandbox.faults.add({ status: 502, rawBody: { contentType: 'text/html; charset=utf-8', text: page }, path: /WhoAmI/ });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toMatchObject({
      code: 'd365_error',
      upstream: { status: 502, code: null, message: `HTTP 502 from ${new URL(sandbox.orgUrl).host}/api/data/v9.2/WhoAmI; the answer is not a Dataverse error (text/html, ${page.length} bytes)` },
    });
    expect(res.body).not.toContain('10.1.2.3');
    expect(res.body).not.toContain('session=abc123');
  });
});
