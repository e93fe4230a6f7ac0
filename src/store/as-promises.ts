/** An async interface's methods as synchronous ones: what an SQLite repository implements. */
export type Synced<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K] };

/**
 * An SQLite repository's synchronous methods behind the async interface (async so that a networked store can
 * implement it too). better-sqlite3 runs each statement, and each transaction, to the end before answering, so a
 * method's work stays atomic; only the answer is deferred.
 */
export function asPromises<T>(methods: Synced<T>): T {
  return Object.fromEntries(
    Object.entries(methods as Record<string, (...args: unknown[]) => unknown>).map(([name, method]) => [
      name,
      (...args: unknown[]) =>
        new Promise((resolve, reject) => {
          try {
            resolve(method(...args));
          } catch (error) {
            reject(error);
          }
        }),
    ]),
  ) as T;
}
