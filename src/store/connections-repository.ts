import type { Db } from './db.js';

export interface StoredConnection {
  tenant_id: string;
  org_url: string;
  entra_tenant_id: string;
  client_id: string;
  client_secret_enc: string;
  authority_host: string | null;
  updated_at: string;
}

export interface ConnectionsRepository {
  get(tenant: string): StoredConnection | undefined;
  upsert(connection: StoredConnection): void;
  delete(tenant: string): boolean;
}

export function createConnectionsRepository(db: Db): ConnectionsRepository {
  const select = db.prepare<[string], StoredConnection>('SELECT * FROM d365_connections WHERE tenant_id = ?');
  const upsert = db.prepare<StoredConnection>(`
    INSERT INTO d365_connections (tenant_id, org_url, entra_tenant_id, client_id, client_secret_enc, authority_host, updated_at)
    VALUES (@tenant_id, @org_url, @entra_tenant_id, @client_id, @client_secret_enc, @authority_host, @updated_at)
    ON CONFLICT (tenant_id) DO UPDATE SET org_url = excluded.org_url, entra_tenant_id = excluded.entra_tenant_id,
      client_id = excluded.client_id, client_secret_enc = excluded.client_secret_enc,
      authority_host = excluded.authority_host, updated_at = excluded.updated_at`);
  const remove = db.prepare<[string]>('DELETE FROM d365_connections WHERE tenant_id = ?');
  return {
    get: (tenant) => select.get(tenant),
    upsert: (connection) => void upsert.run(connection),
    delete: (tenant) => remove.run(tenant).changes > 0,
  };
}
