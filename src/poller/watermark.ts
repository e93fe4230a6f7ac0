/**
 * The later of two instants. Sources differ in precision (Dataverse whole seconds, BC milliseconds, with or
 * without a fraction), so they are compared as times, not as text.
 */
export function laterOf(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  const [ta, tb] = [Date.parse(a), Date.parse(b)];
  if (Number.isNaN(tb)) return a;
  if (Number.isNaN(ta)) return b;
  return tb > ta ? b : a;
}
