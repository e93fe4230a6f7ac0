export interface DeliveryJob {
  tenant: string;
  submissionId: string;
  zip: Buffer;
  /** email only */
  recipients: string[];
  subject: string | null;
}

/** One way of handing a submission ZIP over; answers where it landed (path, message id, remote path). */
export interface Delivery {
  deliver(job: DeliveryJob): Promise<{ location: string }>;
}

export const zipName = (submissionId: string) => `submission_${submissionId}.zip`;
