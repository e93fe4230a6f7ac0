import { describe, expect, it } from 'vitest';
import { hubClient } from '../helpers/hub-client.js';
import { buildHubOnSandbox, startTestSandbox } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/wait.js';

type Status = { tables: Array<{ table: string; last_poll: { started_at: string | null; finished_at: string | null; outcome: string | null } }> };

const inProgress = (status: Status) => status.tables.some((t) => t.last_poll.started_at !== null && (t.last_poll.finished_at === null || t.last_poll.started_at > t.last_poll.finished_at));

describe('poll scheduler', () => {
  it('keeps polling a small table on its interval while another tenant’s huge first sync runs', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable('cr83d_employee', 5000, { seed: 8 });
    // 25 pages of a second each: the huge table's first sync takes about 25 s.
    sandbox.faults.add({ status: 200, delayMs: 1000, times: 10_000, path: /cr83d_employees/ });
    const { app } = await buildHubOnSandbox(sandbox, { POLL_INTERVAL_SECONDS: '1', POLL_CONCURRENCY: '2', D365_PAGE_SIZE: '200' });
    const huge = hubClient(app, 'huge');
    const small = hubClient(app, 'small');
    await huge.register(['cr83d_employee']);
    await small.register(['account']);
    await app.ready();

    const smallPolls = () =>
      app.inject({ method: 'GET', url: '/metrics' }).then((res) => Number(/hub_poll_duration_seconds_count\{tenant="small",connector="d365",table="account",outcome="ok"\} (\d+)/.exec(res.body)?.[1] ?? 0));
    await waitFor(async () => (await smallPolls()) >= 4, { timeoutMs: 15_000 });
    expect(inProgress(await huge.status())).toBe(true);
    expect((await huge.status()).tables[0].last_poll.finished_at).toBeNull();
    await app.close();
  });

  it('never runs more scheduled polls at once than POLL_CONCURRENCY', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable('cr83d_employee', 1000, { seed: 3 });
    sandbox.faults.add({ status: 200, delayMs: 150, times: 10_000, path: /cr83d_employees/ });
    const { app } = await buildHubOnSandbox(sandbox, { POLL_INTERVAL_SECONDS: '1', POLL_CONCURRENCY: '2', D365_PAGE_SIZE: '100' });
    const tenants = ['t1', 't2', 't3', 't4'].map((t) => hubClient(app, t));
    for (const tenant of tenants) await tenant.register(['cr83d_employee']);
    await app.ready();

    let most = 0;
    let sampled = 0;
    const everyTenantPolled = async () => {
      const statuses = await Promise.all(tenants.map((t) => t.status() as Promise<Status>));
      most = Math.max(most, statuses.filter(inProgress).length);
      sampled++;
      return statuses.every((s) => s.tables[0]!.last_poll.outcome === 'ok');
    };
    await waitFor(everyTenantPolled, { timeoutMs: 25_000, everyMs: 50 });
    expect(sampled).toBeGreaterThan(10);
    expect(most).toBe(2);
    await app.close();
  });
});
