/**
 * Throttle pauses other processes must honour too (several hub processes share one app registration's budget):
 * kept in the shared store. `until` is epoch milliseconds.
 */
export interface SharedPauses {
  /** The latest pause end recorded for the key (0 when none). */
  until(key: string): Promise<number>;
  /** Records a pause end, keeping a later one already recorded. */
  extend(key: string, until: number): Promise<void>;
}

/**
 * A key's shared pause. It is read before every request (one primary-key lookup: cheap beside the request it
 * guards, and no process sends on a stale read); a store that does not answer pauses nothing more than the last read.
 */
export class SharedPause {
  private known = 0;

  constructor(
    private readonly pauses: SharedPauses,
    private readonly key: string,
  ) {}

  async until(): Promise<number> {
    this.known = await this.pauses.until(this.key).catch(() => this.known);
    return this.known;
  }

  extend(until: number): void {
    this.known = Math.max(this.known, until);
    this.pauses.extend(this.key, until).catch(() => undefined);
  }
}
