import type { TableRef } from '../store/table-keys.js';

export type Lock = { acquired: string[]; release: () => Promise<void> };

/** Which tenant + connector + table pairs this process (or, with a shared store, any process) is polling. */
export interface PollLockManager {
  /** Takes all the locks or none; answers the keys already held when it cannot. */
  tryAcquireAll(keys: string[]): Promise<Lock | { busy: string[] }>;
  /** Takes the locks that are free and leaves the rest (the scheduler skips tables being polled). */
  acquireFree(keys: string[]): Promise<Lock>;
  /** Lets every lock go (shutdown: another process may take the tables at once). */
  close(): Promise<void>;
}

/**
 * The locks of one process. The HTTP route and the scheduler share one instance, so a table is never read twice at
 * once in the process; with the SQLite store there is only one process.
 */
export class PollLocks implements PollLockManager {
  private readonly held = new Set<string>();

  async tryAcquireAll(keys: string[]): Promise<Lock | { busy: string[] }> {
    const busy = keys.filter((key) => this.held.has(key));
    return busy.length > 0 ? { busy } : this.take(keys);
  }

  async acquireFree(keys: string[]): Promise<Lock> {
    return this.take(keys.filter((key) => !this.held.has(key)));
  }

  async close(): Promise<void> {
    this.held.clear();
  }

  /** Synchronous, so two callers in the same tick can never both take a key. */
  take(keys: string[]): Lock {
    for (const key of keys) this.held.add(key);
    return {
      acquired: keys,
      release: async () => this.drop(keys),
    };
  }

  drop(keys: string[]): void {
    for (const key of keys) this.held.delete(key);
  }

  has(key: string): boolean {
    return this.held.has(key);
  }
}

export const lockKey = ({ tenant, connector, logical }: TableRef) => `${tenant}\u0000${connector}\u0000${logical}`;
