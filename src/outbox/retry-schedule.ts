/**
 * When the next delivery attempt is due after `attempt` failed ones: capped exponential backoff with jitter
 * (half fixed, half random, so a fleet of retries spreads out but never fires at once). Null once the attempts
 * are spent (dead letter).
 */
export function nextRetryDelay(attempt: number, policy: { baseMs: number; maxMs: number; maxAttempts: number }, random: () => number = Math.random): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
