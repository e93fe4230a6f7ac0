interface Cached {
  value: Promise<unknown>;
  expires: number;
}

/** A connection's discovery answers, kept for a while; a failed load is never served from the cache. */
export class MetadataCache {
  private readonly entries = new Map<string, Cached>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const cached = this.entries.get(key);
    if (cached && cached.expires > now) return cached.value as Promise<T>;
    const entry: Cached = { value: load(), expires: now + this.ttlMs };
    entry.value.catch(() => {
      entry.expires = 0;
    });
    this.entries.set(key, entry);
    return entry.value as Promise<T>;
  }
}
