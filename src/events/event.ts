import { randomUUID } from 'node:crypto';

export const EVENT_TYPES = ['rows.changed', 'poll.failed', 'poll.recovered', 'submission.delivered', 'submission.failed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event as the hub serves and sends it (the contract's shape). */
export interface HubEvent {
  id: string;
  type: EventType | 'hub.test';
  tenant_id: string;
  sequence: number;
  created_at: string;
  data: Record<string, unknown>;
}

/** An event about to be written: its sequence comes from the store. */
export interface NewEvent {
  id: string;
  type: EventType;
  tenant_id: string;
  /** The table it is about (rows.changed, poll.*): destinations may filter on it. */
  logical: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

export const newEventId = (): string => `evt_${randomUUID().replaceAll('-', '')}`;

export function newEvent(type: EventType, tenant: string, logical: string | null, data: Record<string, unknown>, now: string): NewEvent {
  return { id: newEventId(), type, tenant_id: tenant, logical, created_at: now, data };
}
