import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Config } from '../../config.js';
import type { Delivery, DeliveryJob } from './delivery.js';
import { zipName } from './delivery.js';

type SftpSettings = Config['submissions']['sftp'];

/** `SHA256:abc…=` as ssh-keygen prints it, or the bare base64, compared without padding. */
const normaliseFingerprint = (value: string) => value.replace(/^SHA256:/i, '').replace(/=+$/, '');

/**
 * Uploads to SFTP_REMOTE_DIR/<tenant>/submission_<id>.zip.part, then renames, so the remote file is whole or
 * absent. A retry overwrites the same path with the same bytes.
 */
export class SftpDelivery implements Delivery {
  constructor(private readonly sftp: SftpSettings) {}

  async deliver(job: DeliveryJob, signal: AbortSignal): Promise<{ location: string }> {
    // Loaded on first use, like nodemailer: ssh2 is large and most hubs never upload.
    const { default: SftpClient } = await import('ssh2-sftp-client');
    const client = new SftpClient('hub-submission');
    // Closing the connection is the only way to stop a put that hangs: it makes the pending call reject.
    const hangUp = () => void client.end().catch(() => undefined);
    signal.addEventListener('abort', hangUp, { once: true });
    try {
      const expected = this.sftp.hostKeySha256 ? normaliseFingerprint(this.sftp.hostKeySha256) : null;
      await client.connect({
        host: this.sftp.host,
        port: this.sftp.port,
        username: this.sftp.username,
        password: this.sftp.password,
        privateKey: this.sftp.privateKeyPath ? await readFile(this.sftp.privateKeyPath) : undefined,
        readyTimeout: 10_000,
        retries: 0,
        hostVerifier: expected ? (key: Buffer) => normaliseFingerprint(createHash('sha256').update(key).digest('base64')) === expected : undefined,
      });
      const folder = posix.join(this.sftp.remoteDir, job.tenant);
      const target = posix.join(folder, zipName(job.submissionId));
      const part = `${target}.part`;
      if (!(await client.exists(folder))) await client.mkdir(folder, true);
      await client.put(job.openZip(), part);
      try {
        await client.posixRename(part, target);
      } catch {
        // Servers without the posix-rename extension refuse to rename onto an existing file.
        if (await client.exists(target)) await client.delete(target);
        await client.rename(part, target);
      }
      return { location: target };
    } finally {
      signal.removeEventListener('abort', hangUp);
      await client.end().catch(() => undefined);
    }
  }
}
