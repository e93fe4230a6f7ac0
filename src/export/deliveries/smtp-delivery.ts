import type { Config } from '../../config.js';
import type { Delivery, DeliveryJob } from './delivery.js';
import { zipName } from './delivery.js';

type SmtpSettings = Config['submissions']['smtp'];

/** One message per submission with the ZIP attached, over SMTP (nodemailer). */
export class SmtpDelivery implements Delivery {
  constructor(private readonly smtp: SmtpSettings) {}

  async deliver(job: DeliveryJob, signal: AbortSignal): Promise<{ location: string }> {
    // Loaded on first use: most hubs never send mail, and the module stays resident once imported.
    const { default: nodemailer } = await import('nodemailer');
    const transport = nodemailer.createTransport({
      host: this.smtp.host,
      port: this.smtp.port,
      secure: this.smtp.secure,
      auth: this.smtp.user ? { user: this.smtp.user, pass: this.smtp.password } : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    });
    const hangUp = () => transport.close();
    signal.addEventListener('abort', hangUp, { once: true });
    try {
      const info = await transport.sendMail({
        from: this.smtp.sender,
        to: job.recipients,
        subject: job.subject ?? `Submission ${job.submissionId} from ${job.tenant}`,
        text: `Submission ${job.submissionId} of tenant ${job.tenant} is attached as ${zipName(job.submissionId)}.`,
        attachments: [{ filename: zipName(job.submissionId), content: job.openZip(), contentType: 'application/zip' }],
      });
      return { location: info.messageId };
    } finally {
      signal.removeEventListener('abort', hangUp);
      transport.close();
    }
  }
}
