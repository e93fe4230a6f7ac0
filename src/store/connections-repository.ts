import { asPromises } from './as-promises.js';
import type { Db } from './db.js';

/** A tenant's own connection to a connector: its plain fields, and its secret fields sealed (never in clear). */
export interface StoredConnection {
  tenant: string;
  connector: string;
  fields: Record<string, string>;
  sealedSecrets: Record<string, string>;
  updated_at: string;
}

export interface ConnectionsRepository {
  get(tenant: string, connector: string): Promise<StoredConnection | undefined>;
  upsert(connection: StoredConnection): Promise<void>;
  delete(tenant: string, connector: string): Promise<boolean>;
}

interface ConnectionRow {
  tenant_id: string;
  connector: string;
  fields: string;
  secrets: string;
  updated_at: string;
}

/** JSON null (a field the migration moved over unset) means absent. */
const present = (record: Record<string, string | null>) =>
  Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== null));

export function createConnectionsRepository(db: Db): ConnectionsRepository {
  const select = db.prepare<[string, string], ConnectionRow>('SELECT * FROM connections WHERE tenant_id = ? AND connector = ?');
  const upsert = db.prepare<ConnectionRow>(`
    INSERT INTO connections (tenant_id, connector, fields, secrets, updated_at) VALUES (@tenant_id, @connector, @fields, @secrets, @updated_at)
    ON CONFLICT (tenant_id, connector) DO UPDATE SET fields = excluded.fields, secrets = excluded.secrets, updated_at = excluded.updated_at`);
  const remove = db.prepare<[string, string]>('DELETE FROM connections WHERE tenant_id = ? AND connector = ?');
  return asPromises<ConnectionsRepository>({
    get: (tenant, connector) => {
      const row = select.get(tenant, connector);
      if (!row) return undefined;
      return { tenant, connector, fields: present(JSON.parse(row.fields)), sealedSecrets: present(JSON.parse(row.secrets)), updated_at: row.updated_at };
    },
    upsert: (c) =>
      void upsert.run({ tenant_id: c.tenant, connector: c.connector, fields: JSON.stringify(c.fields), secrets: JSON.stringify(c.sealedSecrets), updated_at: c.updated_at }),
    delete: (tenant, connector) => remove.run(tenant, connector).changes > 0,
  });
}
