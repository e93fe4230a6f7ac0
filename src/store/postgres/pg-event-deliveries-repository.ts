import { wants } from '../../events/filters.js';
import { DESTINATION_COLUMNS, destinationOf, type DestinationRow } from '../destinations-repository.js';
import { DELIVERY_VIEW, HEAD, newDeliveryId, type DeliveryView, type EventDeliveriesRepository } from '../event-deliveries-repository.js';
import { eventOf } from '../events-repository.js';
import { inTransaction, type PgPool } from './pg-db.js';

/** As the SQLite repository's DUE, with the instant as $1. */
const DUE = `((d.status IN ('pending', 'pending_retry') AND d.next_attempt_at <= $1) OR (d.status = 'delivering' AND d.lease_until <= $1))`;
const FROM_VIEW = 'FROM event_deliveries d JOIN events e ON e.sequence = d.event_sequence';

/** Event deliveries in PostgreSQL: a destination's dispatch runs under its row lock, so two processes never dispatch one destination at once. */
export function createPgEventDeliveriesRepository(pool: PgPool): EventDeliveriesRepository {
  const view = async (destination: string, id: string) =>
    (await pool.query<DeliveryView>(`SELECT ${DELIVERY_VIEW} ${FROM_VIEW} WHERE d.destination_id = $1 AND d.id = $2`, [destination, id])).rows[0];

  const dispatchOne = (destinationId: string, now: string, limit: number) =>
    inTransaction(pool, async (client) => {
      const row = (
        await client.query<DestinationRow & { dispatched_seq: number }>(
          `SELECT ${DESTINATION_COLUMNS}, dispatched_seq FROM destinations WHERE id = $1 FOR UPDATE SKIP LOCKED`,
          [destinationId],
        )
      ).rows[0];
      if (!row) return 0;
      const destination = destinationOf(row);
      const { rows: events } = await client.query<{ sequence: number; type: string; logical: string | null }>(
        'SELECT sequence, type, logical FROM events WHERE tenant_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3',
        [row.tenant_id, row.dispatched_seq, limit],
      );
      const wanted = events.filter((e) => wants(destination, e));
      let made = 0;
      if (wanted.length > 0) {
        const inserted = await client.query(
          `INSERT INTO event_deliveries (id, destination_id, event_sequence, status, next_attempt_at, created_at, updated_at)
           SELECT u.id, $1, u.sequence, 'pending', $2, $2, $2 FROM unnest($3::text[], $4::bigint[]) AS u (id, sequence) ON CONFLICT DO NOTHING`,
          [row.id, now, wanted.map((e) => newDeliveryId(row.id, e.sequence)), wanted.map((e) => e.sequence)],
        );
        made = inserted.rowCount ?? 0;
      }
      if (events.length > 0) await client.query('UPDATE destinations SET dispatched_seq = $1 WHERE id = $2', [events.at(-1)!.sequence, row.id]);
      return made;
    });

  return {
    dispatch: async (now, limit) => {
      const { rows } = await pool.query<{ id: string }>(
        'SELECT d.id FROM destinations d WHERE EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = d.tenant_id AND e.sequence > d.dispatched_seq)',
      );
      let made = 0;
      for (const { id } of rows) made += await dispatchOne(id, now, limit);
      return made;
    },
    dueDestinations: async (now, limit) =>
      (
        await pool.query<{ destination_id: string }>(
          `SELECT t.id AS destination_id FROM destinations t JOIN event_deliveries d ON d.id = (${HEAD}) WHERE t.enabled = 1 AND ${DUE} LIMIT $2`,
          [now, limit],
        )
      ).rows.map((r) => r.destination_id),
    nextDue: async (destination, now) =>
      (await pool.query<{ id: string }>(`SELECT d.id FROM destinations t JOIN event_deliveries d ON d.id = (${HEAD}) WHERE t.id = $2 AND ${DUE}`, [now, destination])).rows[0]?.id,
    claim: (id, now, lease) =>
      inTransaction(pool, async (client) => {
        const claimed = (
          await client.query<{ destination_id: string; event_sequence: number }>(
            `UPDATE event_deliveries d SET status = 'delivering', attempts = attempts + 1, lease_until = $3, updated_at = $1
             WHERE d.id = $2 AND ${DUE} AND (SELECT enabled FROM destinations t WHERE t.id = d.destination_id) = 1
             RETURNING destination_id, event_sequence`,
            [now, id, lease],
          )
        ).rows[0];
        if (!claimed) return null;
        const delivery = (await client.query<DeliveryView>(`SELECT ${DELIVERY_VIEW} ${FROM_VIEW} WHERE d.id = $1`, [id])).rows[0]!;
        const event = (await client.query('SELECT sequence, id, tenant_id, type, created_at, data FROM events WHERE sequence = $1', [claimed.event_sequence])).rows[0];
        const destination = (await client.query<DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM destinations WHERE id = $1`, [claimed.destination_id])).rows[0]!;
        return { delivery: { ...delivery, destination_id: claimed.destination_id }, lease, event: eventOf(event), destination: destinationOf(destination) };
      }),
    succeeded: async (id, lease, status, now) => {
      await pool.query(
        `UPDATE event_deliveries SET status = 'delivered', last_status = $2, last_error = NULL, delivered_at = $3, next_attempt_at = NULL, lease_until = NULL, updated_at = $3
         WHERE id = $1 AND status = 'delivering' AND lease_until = $4`,
        [id, status, now, lease],
      );
    },
    failed: async (id, lease, failure, nextAttemptAt, now) => {
      await pool.query(
        `UPDATE event_deliveries SET status = $2, last_status = $3, last_error = $4, next_attempt_at = $5, lease_until = NULL, updated_at = $6
         WHERE id = $1 AND status = 'delivering' AND lease_until = $7`,
        [id, nextAttemptAt === null ? 'failed' : 'pending_retry', failure.status, failure.message, nextAttemptAt, now, lease],
      );
    },
    released: async (id, reason, now) => {
      await pool.query(
        `UPDATE event_deliveries SET status = 'pending_retry', attempts = GREATEST(attempts - 1, 0), last_error = $2, next_attempt_at = $3, lease_until = NULL, updated_at = $3
         WHERE id = $1 AND status = 'delivering'`,
        [id, reason, now],
      );
    },
    retry: async (destination, id, now) => {
      await pool.query(
        `UPDATE event_deliveries SET status = 'pending_retry', attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END, next_attempt_at = $1, updated_at = $1
         WHERE destination_id = $2 AND id = $3 AND status IN ('pending', 'pending_retry', 'failed')`,
        [now, destination, id],
      );
      return view(destination, id);
    },
    list: async (destination, status, limit) =>
      (
        await pool.query<DeliveryView>(
          `SELECT ${DELIVERY_VIEW} ${FROM_VIEW} WHERE d.destination_id = $1 ${status ? 'AND d.status = $3' : ''} ORDER BY d.event_sequence DESC LIMIT $2`,
          status ? [destination, limit, status] : [destination, limit],
        )
      ).rows,
    get: view,
    // Other processes may be delivering right now: only deliveries whose lease ran out are taken back.
    recoverInterrupted: async (now) =>
      (await pool.query(`UPDATE event_deliveries SET status = 'pending_retry', next_attempt_at = $1, lease_until = NULL, updated_at = $1 WHERE status = 'delivering' AND lease_until <= $1`, [now]))
        .rowCount ?? 0,
    depth: async () =>
      (
        await pool.query<{ destination_id: string; count: number; oldest_created_at: string }>(
          `SELECT destination_id, COUNT(*) AS count, MIN(created_at) AS oldest_created_at FROM event_deliveries
           WHERE status IN ('pending', 'delivering', 'pending_retry') GROUP BY destination_id`,
        )
      ).rows,
  };
}
