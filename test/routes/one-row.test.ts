import { describe, expect, it } from 'vitest';
import { acmeWithTables } from '../helpers/sandbox.js';

describe('one row by primary key (d365)', () => {
  it('answers the stored row, its tombstone after a deletion, and 404 row_not_found for an unknown id', async () => {
    const { sandbox, app, hub } = await acmeWithTables(['account']);
    await hub.poll();
    const [row, gone] = sandbox.data.rows('account');
    const id = String(row!.accountid);
    const one = await app.inject({ method: 'GET', url: `/tenants/acme/connectors/d365/tables/ACCOUNT/rows/${id}` });
    expect(one.statusCode).toBe(200);
    const { '@odata.etag': _etag, ...columns } = row!;
    expect(one.json()).toStrictEqual({ id, modified_on: row!.modifiedon, deleted: false, data: columns });
    // The same as the rows API gives for it.
    expect((await hub.allRows('account')).find((r) => r.id === id)).toStrictEqual(one.json());

    sandbox.data.deleteRow('account', String(gone!.accountid));
    await hub.poll();
    expect((await app.inject({ method: 'GET', url: `/tenants/acme/connectors/d365/tables/account/rows/${String(gone!.accountid)}` })).json()).toMatchObject({ deleted: true });
    const missing = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/tables/account/rows/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toStrictEqual({ error: { code: 'row_not_found', message: "Table 'account' of tenant 'acme' holds no row with id 'nope'." } });
    expect((await app.inject({ method: 'GET', url: `/tenants/other/connectors/d365/tables/account/rows/${id}` })).json().error.code).toBe('table_not_registered');
  });
});
