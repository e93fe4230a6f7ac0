/**
 * Per-key state that is made on first use and dropped once it has gone unused for `idleMs` (and is not busy),
 * so hosts a tenant named once do not keep agents, connectors or gates alive for the life of the process.
 */
export class IdleCache<K, V> {
  private readonly entries = new Map<K, { value: V; usedAt: number }>();

  constructor(
    private readonly options: {
      idleMs: number;
      /** Entries still doing something are kept whatever their age. */
      busy?: (value: V) => boolean;
      dispose?: (value: V) => unknown;
      now?: () => number;
    },
  ) {}

  get(key: K, create: () => V): V {
    const now = (this.options.now ?? Date.now)();
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: create(), usedAt: now };
      this.entries.set(key, entry);
    }
    entry.usedAt = now;
    return entry.value;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops (and disposes) the entries idle for longer than `idleMs`; answers how many. */
  sweep(): number {
    const cutoff = (this.options.now ?? Date.now)() - this.options.idleMs;
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.usedAt > cutoff || this.options.busy?.(entry.value)) continue;
      this.entries.delete(key);
      this.options.dispose?.(entry.value);
      dropped++;
    }
    return dropped;
  }

  /** Removes every entry, answering their values (for closing). */
  clear(): V[] {
    const values = [...this.entries.values()].map((entry) => entry.value);
    this.entries.clear();
    return values;
  }
}
