import type { Readable } from 'node:stream';

export interface DeliveryJob {
  tenant: string;
  submissionId: string;
  /** The package's size, and a new stream of its bytes each time (one chunk in memory at a time). */
  bytes: number;
  openZip: () => Readable;
  /** email only */
  recipients: string[];
  subject: string | null;
}

/**
 * One way of handing a submission ZIP over; answers where it landed (path, message id, remote path). When
 * `signal` aborts (attempt timeout, shutdown) the delivery gives up its connection and rejects.
 */
export interface Delivery {
  deliver(job: DeliveryJob, signal: AbortSignal): Promise<{ location: string }>;
}

export const zipName = (submissionId: string) => `submission_${submissionId}.zip`;
