import type { Readable } from 'node:stream';

export interface DeliveryJob {
  tenant: string;
  submissionId: string;
  /** A new stream of the package's bytes each time (one chunk in memory at a time). */
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
