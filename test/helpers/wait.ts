import { setTimeout as sleep } from 'node:timers/promises';

/** Polls until `check` returns a truthy value (or throws after the deadline, with the last value seen). */
export async function waitFor<T>(check: () => Promise<T> | T, { timeoutMs = 15_000, everyMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await check();
    if (last) return last;
    await sleep(everyMs);
  } while (Date.now() < deadline);
  throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
}
