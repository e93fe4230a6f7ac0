export type Lock = { acquired: string[]; release: () => void };

/**
 * Which tenant + table pairs are being polled in this process. The HTTP route and the scheduler share one
 * instance, so a table is never read twice at once. (Several replicas would need a lock in the shared store.)
 */
export class PollLocks {
  private readonly held = new Set<string>();

  /** Takes all the locks or none; answers the keys already held when it cannot. */
  tryAcquireAll(keys: string[]): Lock | { busy: string[] } {
    const busy = keys.filter((key) => this.held.has(key));
    return busy.length > 0 ? { busy } : this.take(keys);
  }

  /** Takes the locks that are free and leaves the rest (the scheduler skips tables being polled). */
  acquireFree(keys: string[]): Lock {
    return this.take(keys.filter((key) => !this.held.has(key)));
  }

  private take(keys: string[]): Lock {
    for (const key of keys) this.held.add(key);
    return { acquired: keys, release: () => keys.forEach((key) => this.held.delete(key)) };
  }
}

import type { TableRef } from '../store/table-keys.js';

export const lockKey = ({ tenant, connector, logical }: TableRef) => `${tenant}\u0000${connector}\u0000${logical}`;
