import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

/** Small typed calls of the hub's sync routes, asserting the status they should answer. */
export function hubClient(app: FastifyInstance, tenant: string, connector = 'd365') {
  const base = `/tenants/${tenant}/connectors/${connector}`;
  return {
    async register(tables: string[], status = 200) {
      const res = await app.inject({ method: 'POST', url: `${base}/tables:register`, payload: { tables } });
      expect(res.statusCode, res.body).toBe(status);
      return res.json();
    },
    async poll(query = '', status = 200) {
      const res = await app.inject({ method: 'POST', url: `${base}:poll${query ? `?${query}` : ''}` });
      expect(res.statusCode, res.body).toBe(status);
      return res.json() as { tables: Array<{ table: string; mode: string; upserted: number; deleted: number; pages: number; outcome: string }> };
    },
    async status() {
      const res = await app.inject({ method: 'GET', url: `${base}/tables:status` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    },
    async rowsPage(table: string, query: string) {
      const res = await app.inject({ method: 'GET', url: `${base}/tables/${table}/rows?${query}` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { rows: Array<{ id: string; modified_on: string | null; deleted: boolean; data: Record<string, unknown> }>; next_cursor: string | null; sync_seq: number };
    },
    /** Every stored row of a table, walking the cursor to the end. */
    async allRows(table: string, { includeDeleted = false, limit = 5000 } = {}) {
      const rows: Array<{ id: string; modified_on: string | null; deleted: boolean; data: Record<string, unknown> }> = [];
      let cursor: string | null = null;
      do {
        const page = await this.rowsPage(table, `limit=${limit}&include_deleted=${includeDeleted}${cursor ? `&cursor=${cursor}` : ''}`);
        rows.push(...page.rows);
        cursor = page.next_cursor;
      } while (cursor);
      return rows;
    },
  };
}
