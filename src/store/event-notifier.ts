/**
 * Tells this process's listeners that events were committed, so deliveries start now rather than at the next
 * round. Only a hint: the rounds still find every event, whoever wrote it.
 */
export class EventNotifier {
  private readonly listeners = new Set<() => void>();

  on(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** Call once the events' transaction has committed (listeners run on a later turn of the event loop). */
  notify(): void {
    if (this.listeners.size > 0) setImmediate(() => this.listeners.forEach((listener) => listener()));
  }
}
