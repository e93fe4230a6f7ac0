import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import { BadRequestError, ConflictError, NotConfiguredError, NotFoundError } from '../errors.js';
import type { HubMetrics } from '../metrics.js';
import { Outbox } from '../outbox/outbox.js';
import type { SubmissionRecord, SubmissionRoute, SubmissionStatus, SubmissionsRepository } from '../store/submissions-repository.js';
import { canonicalJson } from './canonical-json.js';
import type { Delivery } from './deliveries/delivery.js';
import { buildPackage, safeAttachmentNames, sha256Hex } from './package-builder.js';
import type { SpooledAttachment } from './submission-body.js';

/** A submission as read from its request: each attachment's bytes wait in a spool file (see submission-body). */
export interface SubmissionInput {
  submission_package_id: string;
  route: SubmissionRoute;
  answers: Record<string, unknown>;
  attachments: Array<{ filename: string; content_type?: string; content: SpooledAttachment }>;
  email?: { to?: string[]; subject?: string };
}

export type AnswerStatus = 'delivered' | 'pending_retry' | 'failed';

export interface SubmissionAnswer {
  submission_package_id: string;
  route: SubmissionRoute;
  status: AnswerStatus;
  bytes: number;
  sha256: string;
  location: string | null;
}

export interface SubmissionView extends SubmissionAnswer {
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export interface ExportServiceDeps {
  repository: SubmissionsRepository;
  settings: Config['submissions'];
  deliveries: Record<SubmissionRoute, Delivery>;
  metrics: HubMetrics;
  now: () => Date;
  log: FastifyBaseLogger;
  random?: () => number;
}

/**
 * Equal as JSON ⇔ equal digest. Attachment contents enter by the hash of their base64 text, so a 50 MB body is
 * hashed once as it streams in instead of being re-serialised with sorted keys.
 */
function bodyDigest(input: SubmissionInput): string {
  const attachments = input.attachments.map(({ content, ...a }) => ({ ...a, content_base64: content.textSha256 }));
  return sha256Hex(canonicalJson({ ...input, attachments }));
}

/** `buyer@Sub.Example.com` is in `example.com`'s list only as `.example.com` (subdomains) or `sub.example.com`. */
function domainAllowed(address: string, allowed: string[]): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return allowed.some((entry) => (entry.startsWith('.') ? domain.endsWith(entry) || domain === entry.slice(1) : domain === entry));
}

/** How often a repeat of a submission another process is delivering looks at its outcome. */
const SETTLE_POLL_MS = 100;

interface SubmissionKey {
  tenant: string;
  id: string;
}

/** A stored package as a stream: one chunk in memory at a time. */
async function* packageChunks(repository: SubmissionsRepository, tenant: string, id: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const chunk = await repository.packageChunk(tenant, id, seq);
    if (!chunk) return;
    yield chunk;
  }
}

const answerStatus = (status: SubmissionStatus): AnswerStatus => (status === 'delivered' || status === 'failed' ? status : 'pending_retry');

/**
 * Packages submissions and delivers them through an outbox: recorded (with the ZIP) before any attempt, so none
 * is lost; re-posting the same body answers the record and sends nothing again.
 */
export class ExportService {
  private readonly outbox: Outbox<SubmissionKey, SubmissionRecord, { location: string }>;

  constructor(private readonly deps: ExportServiceDeps) {
    const { repository, settings } = deps;
    this.outbox = new Outbox({
      what: 'submission',
      records: {
        claim: async ({ tenant, id }, now, leaseUntil) => ((await repository.claim(tenant, id, now, leaseUntil)) ? ((await repository.get(tenant, id)) ?? null) : null),
        succeeded: ({ tenant, id }, _record, { location }, now) => repository.markDelivered(tenant, id, location, now),
        failed: ({ tenant, id }, _record, failure, nextAttemptAt, now) => repository.markFailedAttempt(tenant, id, failure.message, nextAttemptAt, now),
        released: ({ tenant, id }, reason, now) => repository.releaseInterrupted(tenant, id, reason, now),
      },
      send: async (record, signal) => {
        const job = {
          tenant: record.tenant_id,
          submissionId: record.submission_id,
          openZip: () => Readable.from(packageChunks(repository, record.tenant_id, record.submission_id)),
          recipients: record.recipients ? (JSON.parse(record.recipients) as string[]) : [],
          subject: record.subject,
        };
        return deps.deliveries[record.route].deliver(job, signal);
      },
      keyOf: ({ tenant, id }) => `${tenant}\u0000${id}`,
      attemptsOf: (record) => record.attempts,
      attemptTimeoutMs: settings.attemptTimeoutMs,
      timeoutSetting: 'SUBMISSION_ATTEMPT_TIMEOUT_SECONDS',
      retry: { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs, maxAttempts: settings.maxAttempts },
      now: deps.now,
      log: deps.log,
      random: deps.random,
      onOutcome: (record, status) => deps.metrics.submissions.inc({ route: record.route, status }),
    });
  }

  async submit(tenant: string, input: SubmissionInput): Promise<SubmissionAnswer> {
    const { repository } = this.deps;
    this.requireRoute(input.route);
    const id = input.submission_package_id;
    const digest = bodyDigest(input);
    const existing = await repository.get(tenant, id);
    if (existing) return this.replay(tenant, existing, digest);

    const recipients = input.route === 'email' ? this.recipients(input) : [];
    const names = safeAttachmentNames(input.attachments.map((a) => a.filename));
    const files = input.attachments.map(({ content }, i) => ({ ...content, name: names[i]! }));
    const createdAt = this.deps.now().toISOString();
    const zipPath = join(this.deps.settings.spoolDir, `${randomBytes(9).toString('hex')}.zip`);
    let inserted: boolean;
    try {
      const pkg = await buildPackage({ tenant_id: tenant, submission_package_id: id, route: input.route, created_at: createdAt }, input.answers, files, zipPath);
      inserted = await repository.insert({
        tenant_id: tenant,
        submission_id: id,
        route: input.route,
        body_sha256: digest,
        recipients: recipients.length ? JSON.stringify(recipients) : null,
        subject: input.email?.subject ?? null,
        zipPath,
        zip_bytes: pkg.bytes,
        zip_sha256: pkg.sha256,
        created_at: createdAt,
      });
    } finally {
      await rm(zipPath, { force: true });
    }
    // Another request with the same id won the insert while this one was packaging.
    if (!inserted) return this.replay(tenant, (await repository.get(tenant, id))!, digest);
    await this.attempt(tenant, id);
    return this.answer((await repository.get(tenant, id))!);
  }

  async retry(tenant: string, id: string): Promise<SubmissionAnswer> {
    const record = await this.record(tenant, id);
    if (record.status === 'failed') await this.deps.repository.reopen(tenant, id, this.deps.now().toISOString());
    if (record.status !== 'delivered') await this.attempt(tenant, id);
    return this.answer(await this.record(tenant, id));
  }

  async view(tenant: string, id: string): Promise<SubmissionView> {
    return this.toView(await this.record(tenant, id));
  }

  async list(tenant: string, status: SubmissionStatus | undefined, limit: number): Promise<SubmissionView[]> {
    return (await this.deps.repository.list(tenant, status, limit)).map((r) => this.toView(r));
  }

  /** Deliveries whose retry time has come (the worker calls this). */
  async deliverDue(limit = 20): Promise<number> {
    const due = await this.deps.repository.due(this.deps.now().toISOString(), limit);
    await Promise.all(due.map(({ tenant_id, submission_id }) => this.attempt(tenant_id, submission_id)));
    return due.length;
  }

  /** Shutdown: see Outbox.beginShutdown. */
  beginShutdown(graceMs: number): void {
    this.outbox.beginShutdown(graceMs);
  }

  /** Waits for deliveries in flight (shutdown). */
  async drain(): Promise<void> {
    await this.outbox.drain();
  }

  /** One attempt at most per submission at a time, whoever asks (the request, the worker, a manual retry, a queued job). */
  attempt(tenant: string, id: string): Promise<void> {
    return this.outbox.attempt({ tenant, id });
  }

  /** A repeat of a submission whose attempt is under way waits for that attempt, so every caller gets its result. */
  private async replay(tenant: string, existing: SubmissionRecord, digest: string): Promise<SubmissionAnswer> {
    if (existing.body_sha256 !== digest) {
      throw new ConflictError('submission_conflict', `Submission '${existing.submission_id}' was already posted with a different body.`);
    }
    const running = this.outbox.running({ tenant, id: existing.submission_id });
    if (running) {
      await running;
      return this.answer((await this.deps.repository.get(tenant, existing.submission_id))!);
    }
    return this.answer(await this.settled(existing));
  }

  /**
   * A submission another process recorded and is delivering (a shared store): its outcome, once it has one, so
   * every caller of the same id gets the same answer; past the attempt's timeout, the record as it stands.
   */
  private async settled(record: SubmissionRecord): Promise<SubmissionRecord> {
    const deadline = Date.now() + this.outbox.leaseMs;
    let current = record;
    while ((current.status === 'pending' || current.status === 'delivering') && Date.now() < deadline && !this.outbox.isStopping) {
      await sleep(SETTLE_POLL_MS);
      current = (await this.deps.repository.get(current.tenant_id, current.submission_id)) ?? current;
    }
    return current;
  }

  private requireRoute(route: SubmissionRoute): void {
    const { smtp, sftp } = this.deps.settings;
    if (route === 'email' && !(smtp.host && smtp.sender)) throw new NotConfiguredError('route_not_configured', 'route=email needs SMTP_HOST and SMTP_SENDER.');
    if (route === 'sftp' && !(sftp.host && sftp.username && (sftp.password || sftp.privateKeyPath))) {
      throw new NotConfiguredError('route_not_configured', 'route=sftp needs SFTP_HOST, SFTP_USERNAME and SFTP_PASSWORD or SFTP_PRIVATE_KEY_PATH.');
    }
  }

  /** A caller's recipients must be in SUBMISSION_EMAIL_ALLOWED_DOMAINS when it is set; the operator's fallback is trusted. */
  private recipients(input: SubmissionInput): string[] {
    const given = input.email?.to ?? [];
    const allowed = this.deps.settings.emailAllowedDomains;
    const refused = allowed ? given.filter((address) => !domainAllowed(address, allowed)) : [];
    if (refused.length > 0) {
      throw new BadRequestError('recipient_not_allowed', `Recipients outside SUBMISSION_EMAIL_ALLOWED_DOMAINS: ${refused.join(', ')}; nothing was sent or stored.`, {
        recipients: refused,
      });
    }
    const fallback = this.deps.settings.emailTo?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
    const recipients = given.length ? given : fallback;
    if (recipients.length === 0) throw new BadRequestError('no_recipient', 'route=email needs email.to in the body or SUBMISSION_EMAIL_TO.');
    return recipients;
  }

  private async record(tenant: string, id: string): Promise<SubmissionRecord> {
    const record = await this.deps.repository.get(tenant, id);
    if (!record) throw new NotFoundError('submission_not_found', `Tenant '${tenant}' has no submission '${id}'.`);
    return record;
  }

  private answer(record: SubmissionRecord): SubmissionAnswer {
    return {
      submission_package_id: record.submission_id,
      route: record.route,
      status: answerStatus(record.status),
      bytes: record.zip_bytes,
      sha256: record.zip_sha256,
      location: record.location,
    };
  }

  private toView(record: SubmissionRecord): SubmissionView {
    return {
      ...this.answer(record),
      attempts: record.attempts,
      last_error: record.last_error,
      next_attempt_at: record.next_attempt_at,
      created_at: record.created_at,
      updated_at: record.updated_at,
      delivered_at: record.delivered_at,
    };
  }
}
