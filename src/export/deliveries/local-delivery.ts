import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Delivery, DeliveryJob } from './delivery.js';
import { zipName } from './delivery.js';

/** Writes SUBMISSION_DIR/<tenant>/submission_<id>.zip whole or not at all: temp file, fsync, rename, fsync folder. */
export class LocalDelivery implements Delivery {
  private readonly root: string;

  constructor(submissionDir: string) {
    this.root = resolve(submissionDir);
  }

  async deliver(job: DeliveryJob, signal: AbortSignal): Promise<{ location: string }> {
    const folder = this.inside(join(this.root, job.tenant));
    const target = this.inside(join(folder, zipName(job.submissionId)));
    const temp = join(folder, `.${zipName(job.submissionId)}.${randomBytes(6).toString('hex')}.tmp`);
    await mkdir(folder, { recursive: true });
    try {
      const file = await open(temp, 'wx');
      try {
        for await (const chunk of job.openZip()) {
          signal.throwIfAborted();
          await file.write(chunk as Buffer);
        }
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const dir = await open(folder, 'r');
    await dir.sync().finally(() => dir.close());
    return { location: target };
  }

  /** Ids and tenants are validated at the edge; this is the last line against writing outside the folder. */
  private inside(path: string): string {
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`refusing to write outside ${this.root}`);
    return path;
  }
}
