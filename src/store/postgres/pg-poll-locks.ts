import { createHash } from 'node:crypto';
import pg from 'pg';
import { PollLocks, type Lock, type PollLockManager } from '../../poller/poll-locks.js';

/** A table's advisory lock id: 64 bits of its key's SHA-256 (collisions are as unlikely as they get). */
const advisoryId = (key: string) => createHash('sha256').update(key).digest().readBigInt64BE(0).toString();

/**
 * Poll locks shared by every hub process on one PostgreSQL database: session advisory locks, all held on one
 * dedicated connection of this process. A process that dies drops its connection, and PostgreSQL releases its
 * locks at once, so another process can take the table over and resume from the last committed page. Within the
 * process the in-memory locks come first (advisory locks are re-entrant for their own session).
 */
export class PgPollLocks implements PollLockManager {
  private readonly local = new PollLocks();
  private client: Promise<pg.Client> | null = null;
  /** Lock statements run one at a time on the one connection. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly url: string) {}

  async tryAcquireAll(keys: string[]): Promise<Lock | { busy: string[] }> {
    const busyHere = keys.filter((key) => this.local.has(key));
    if (busyHere.length > 0) return { busy: busyHere };
    // Reserved here at once, so no caller of this process races for the same keys while the database answers.
    const reserved = this.local.take(keys);
    const taken: string[] = [];
    try {
      for (const key of keys) {
        if (await this.tryLock(key)) taken.push(key);
        else {
          await this.unlock(taken);
          await reserved.release();
          return { busy: keys.filter((k) => !taken.includes(k)) };
        }
      }
    } catch (error) {
      await this.unlock(taken).catch(() => undefined);
      await reserved.release();
      throw error;
    }
    return this.lockOf(keys, reserved);
  }

  async acquireFree(keys: string[]): Promise<Lock> {
    const free = keys.filter((key) => !this.local.has(key));
    this.local.take(free);
    const taken: string[] = [];
    try {
      for (const key of free) if (await this.tryLock(key)) taken.push(key);
    } catch {
      // The database did not answer: this round takes nothing more; what it took is kept and released as usual.
    }
    // Keys another process holds go back at once.
    this.local.drop(free.filter((key) => !taken.includes(key)));
    return this.lockOf(taken, { acquired: taken, release: async () => this.local.drop(taken) });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await this.local.close();
    if (client) await (await client).end().catch(() => undefined);
  }

  private lockOf(keys: string[], local: Lock): Lock {
    return {
      acquired: keys,
      release: async () => {
        await this.unlock(keys).catch(() => undefined);
        await local.release();
      },
    };
  }

  private connection(): Promise<pg.Client> {
    this.client ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, application_name: 'integration-hub poll locks', keepAlive: true });
      // A lost lock connection lost its locks too: the next lock statement opens a new one.
      client.on('error', () => {
        this.client = null;
      });
      await client.connect();
      return client;
    })().catch((error: unknown) => {
      this.client = null;
      throw error;
    });
    return this.client;
  }

  private run<T>(statement: (client: pg.Client) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => statement(await this.connection()));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async tryLock(key: string): Promise<boolean> {
    return this.run(async (client) => (await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [advisoryId(key)])).rows[0]!.locked);
  }

  private async unlock(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.run((client) => client.query('SELECT pg_advisory_unlock(k::bigint) FROM unnest($1::text[]) AS k', [keys.map(advisoryId)]));
  }
}
