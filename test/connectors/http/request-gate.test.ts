import { describe, expect, it } from 'vitest';
import { RequestGate } from '../../../src/connectors/http/request-gate.js';

describe('request gate', () => {
  it('starts no more requests in a sliding window than its budget allows, and the next one once the oldest leaves it', async () => {
    const gate = new RequestGate({ maxConcurrency: 5, window: { max: 3, ms: 300 } });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 5 }, () => gate.run(async () => void starts.push(Date.now()))));
    // Three at once, then each later one only after the request three before it left the window (the task notes its
    // start a moment after the gate does, so one millisecond of slack).
    for (let i = 3; i < starts.length; i++) expect(starts[i]! - starts[i - 3]!).toBeGreaterThanOrEqual(299);
    expect(gate.idle).toBe(false);
  });

  it('caps requests in flight and queues the rest', async () => {
    const gate = new RequestGate({ maxConcurrency: 2 });
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        gate.run(async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((resolve) => setTimeout(resolve, 10));
          inFlight--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(gate.idle).toBe(true);
  });
});
