import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../src/connectors/http/circuit-breaker.js';

function breaker(threshold = 3) {
  let now = 1000;
  const changes: boolean[] = [];
  const cb = new CircuitBreaker({ system: { id: 'd365', name: 'Dynamics 365' }, threshold, cooldownMs: 500, now: () => now, onChange: (open) => changes.push(open) });
  return { cb, changes, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('opens after the threshold of failures in a row and fails fast during the cool-down', async () => {
    const { cb, changes } = breaker();
    cb.failure();
    cb.failure();
    expect(await cb.admit()).toBe(false);
    cb.failure();
    await expect(cb.admit()).rejects.toThrow(/failed 3 times in a row/);
    expect(changes).toStrictEqual([true]);
  });

  it('a success resets the count', async () => {
    const { cb } = breaker();
    cb.failure();
    cb.failure();
    cb.success();
    cb.failure();
    expect(await cb.admit()).toBe(false);
  });

  it('after the cool-down admits exactly one probe; the others fail fast until it answers', async () => {
    const { cb, changes, advance } = breaker();
    for (let i = 0; i < 3; i++) cb.failure();
    advance(501);
    expect(await cb.admit()).toBe(true);
    await expect(cb.admit()).rejects.toThrow(/until the probe request in flight answers/);
    await expect(cb.admit()).rejects.toThrow(/until the probe/);
    cb.success();
    expect(await cb.admit()).toBe(false);
    expect(changes).toStrictEqual([true, false]);
    expect(cb.idle).toBe(true);
  });

  it('a failed probe opens the circuit for another cool-down', async () => {
    const { cb, changes, advance } = breaker();
    for (let i = 0; i < 3; i++) cb.failure();
    advance(501);
    expect(await cb.admit()).toBe(true);
    cb.failure();
    await expect(cb.admit()).rejects.toThrow(/for another 1 s/);
    advance(501);
    expect(await cb.admit()).toBe(true);
    expect(changes).toStrictEqual([true]);
  });

  it('a probe released without a verdict lets the next call probe', async () => {
    const { cb, advance } = breaker();
    for (let i = 0; i < 3; i++) cb.failure();
    advance(501);
    expect(await cb.admit()).toBe(true);
    cb.release(true);
    expect(await cb.admit()).toBe(true);
    expect(cb.idle).toBe(false);
  });
});
