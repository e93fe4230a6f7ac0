import { createHash, randomBytes, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import Assembler from 'stream-json/Assembler.js';
import Parser from 'stream-json/Parser.js';
import { BadRequestError, HubError, PayloadTooLargeError } from '../errors.js';

/** An attachment's decoded bytes in a spool file, with what the package and the idempotency digest need of it. */
export interface SpooledAttachment {
  path: string;
  bytes: number;
  /** Of the decoded bytes (the manifest's). */
  sha256: string;
  /** Of the base64 text as sent (the body digest's, as it was when bodies were parsed whole). */
  textSha256: string;
}

export interface SubmissionBodyLimits {
  bodyLimitBytes: number;
  maxAttachmentBytes: number;
  spoolDir: string;
}

/** The most attachments a submission may have (the route's schema says the same): no more spool files than this. */
export const MAX_ATTACHMENTS = 200;

/** What the stream reader leaves in the body where an attachment's base64 text was: the bytes are in the spool. */
export const SPOOLED_CONTENT = '';

export interface ReadSubmission {
  /** The body as JSON.parse would give it, except that each `attachments[i].content_base64` is SPOOLED_CONTENT. */
  body: unknown;
  /** By index in `attachments`. */
  attachments: Map<number, SpooledAttachment>;
}

const GATHER_CHARS = 256 * 1024;
const BASE64_BODY = /^[A-Za-z0-9+/_-]*$/;
const invalid = (index: number) => new BadRequestError('invalid_attachment', `attachments[${index}].content_base64 is not valid base64.`);
const tooLarge = (index: number, max: number) =>
  new PayloadTooLargeError('attachment_too_large', `attachments[${index}] is larger than ${Math.round(max / 1024 / 1024)} MB (SUBMISSION_MAX_ATTACHMENT_MB).`);

/**
 * Decodes one attachment's base64 text as it arrives into its spool file. Chunks end anywhere, so up to three
 * characters wait for the next one; `=` may only end the text, as Buffer's decoder would otherwise stop there.
 */
class Base64Spool {
  private carry = '';
  private padding = 0;
  private bytes = 0;
  private readonly text: Hash = createHash('sha256');
  private readonly data: Hash = createHash('sha256');
  private readonly fd: number;
  private closed = false;
  private pending: string[] = [];
  private pendingLength = 0;
  private decoded = Buffer.allocUnsafe((GATHER_CHARS / 4) * 3 + 3);

  constructor(
    private readonly index: number,
    private readonly max: number,
    readonly path: string,
  ) {
    this.fd = openSync(path, 'wx', 0o600);
  }

  /** The parser hands over text in pieces of ≤ 256 characters: gathered, so each decode and write is large. */
  write(piece: string): void {
    this.pending.push(piece);
    this.pendingLength += piece.length;
    if (this.pendingLength >= GATHER_CHARS) this.flush();
  }

  private flush(): void {
    if (this.pendingLength === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    this.text.update(chunk);
    const compact = /\s/.test(chunk) ? chunk.replace(/\s+/g, '') : chunk;
    if (compact === '') return;
    if (this.padding > 0) {
      if (!/^=+$/.test(compact) || this.padding + compact.length > 2) throw invalid(this.index);
      this.padding += compact.length;
      return;
    }
    const eq = compact.indexOf('=');
    const body = eq === -1 ? compact : compact.slice(0, eq);
    if (eq !== -1) {
      const pad = compact.slice(eq);
      if (!/^=+$/.test(pad) || pad.length > 2) throw invalid(this.index);
      this.padding = pad.length;
    }
    if (!BASE64_BODY.test(body)) throw invalid(this.index);
    const text = this.carry + body;
    const usable = text.length - (text.length % 4);
    this.carry = text.slice(usable);
    if (usable > 0) this.decode(usable === text.length ? text : text.slice(0, usable));
  }

  finish(): SpooledAttachment {
    this.flush();
    if ((this.carry.length + this.padding) % 4 !== 0) throw invalid(this.index);
    if (this.carry.length > 0) this.decode(this.carry);
    closeSync(this.fd);
    this.closed = true;
    return { path: this.path, bytes: this.bytes, sha256: this.data.digest('hex'), textSha256: this.text.digest('hex') };
  }

  discard(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.path, { force: true });
  }

  /** Into one reused buffer: a gathered piece decodes to at most GATHER_CHARS × 3/4 bytes. */
  private decode(quads: string): void {
    if (quads.length > this.decoded.length * (4 / 3)) this.decoded = Buffer.allocUnsafe(Math.ceil((quads.length * 3) / 4));
    const length = this.decoded.write(quads, 'base64');
    const decoded = this.decoded.subarray(0, length);
    this.bytes += length;
    if (this.bytes > this.max) throw tooLarge(this.index, this.max);
    this.data.update(decoded);
    // Synchronous on purpose: a write that waited would let the parser run ahead and queue decoded bytes in memory;
    // this one is ≤ 192 kB into the page cache.
    for (let written = 0; written < length; ) written += writeSync(this.fd, decoded, written);
  }

}

interface Token {
  name: string;
  value?: string;
}

/** Where the assembler stands is `attachments[i].content_base64` of the top-level object: i, else null. */
function attachmentIndex(assembler: Assembler): number | null {
  const stack = assembler.stack as unknown[];
  if (stack.length !== 4 || stack[1] !== 'attachments' || !Array.isArray(stack[2]) || assembler.key !== 'content_base64') return null;
  return Array.isArray(assembler.current) ? null : stack[2].length;
}

/**
 * Reads a submission body as a stream: every value is assembled as JSON.parse would (refusing `__proto__` and
 * `constructor.prototype` keys as the hub's JSON parser does), except each attachment's base64 text, which is
 * decoded into a spool file as it arrives, so neither the text nor the decoded bytes are ever held whole.
 * On any error the spool files made so far are removed before it rejects.
 */
export async function readSubmissionBody(source: Readable, limits: SubmissionBodyLimits, declaredBytes = 0): Promise<ReadSubmission> {
  const bodyTooLarge = () => new PayloadTooLargeError('body_too_large', 'Request body is larger than the configured limit (HUB_BODY_LIMIT_MB).');
  // A Content-Length over the limit is refused before anything is read (the rest is dropped so the answer gets out).
  if (declaredBytes > limits.bodyLimitBytes) {
    source.resume();
    throw bodyTooLarge();
  }
  mkdirSync(limits.spoolDir, { recursive: true, mode: 0o700 });
  const attachments = new Map<number, SpooledAttachment>();
  let received = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      done(received > limits.bodyLimitBytes ? bodyTooLarge() : null, chunk);
    },
  });
  const parser = Parser.make({ packKeys: true, streamKeys: false, packNumbers: true, streamNumbers: false, packStrings: false });
  const assembler = new Assembler();
  let spool: { index: number; writer: Base64Spool } | null = null;
  let text: string[] = [];
  const discardAll = () => {
    spool?.writer.discard();
    for (const done of attachments.values()) rmSync(done.path, { force: true });
  };
  let sourceFailed = false;
  source.on('error', (error) => {
    sourceFailed = true;
    limiter.destroy(error);
  });
  source.pipe(limiter).pipe(parser);
  limiter.on('error', (error) => parser.destroy(error));
  const consume = (token: Token) => {
    switch (token.name) {
      case 'startString': {
        const index = attachmentIndex(assembler);
        if (index !== null && index >= MAX_ATTACHMENTS) {
          throw new BadRequestError('invalid_request', `Invalid body.attachments: a submission has at most ${MAX_ATTACHMENTS} attachments.`);
        }
        if (index !== null) {
          spool = { index, writer: new Base64Spool(index, limits.maxAttachmentBytes, join(limits.spoolDir, `${randomBytes(9).toString('hex')}.part`)) };
        } else text = [];
        break;
      }
      case 'stringChunk':
        if (spool) spool.writer.write(token.value!);
        else text.push(token.value!);
        break;
      case 'endString':
        if (spool) {
          const previous = attachments.get(spool.index);
          if (previous) rmSync(previous.path, { force: true });
          attachments.set(spool.index, spool.writer.finish());
          spool = null;
          assembler.consume({ name: 'stringValue', value: SPOOLED_CONTENT });
        } else assembler.consume({ name: 'stringValue', value: text.join('') });
        break;
      case 'keyValue': {
        const stack = assembler.stack;
        if (token.value === '__proto__' || (token.value === 'prototype' && stack[stack.length - 1] === 'constructor')) {
          throw new BadRequestError('invalid_json', 'Body is not valid JSON: it has a forbidden __proto__ or constructor.prototype key.');
        }
        assembler.consume(token);
        break;
      }
      default:
        assembler.consume(token);
    }
  };
  try {
    // Tokens are handled as they are emitted (no await per token: there are ~4 000 per MB of base64); the
    // handler is synchronous, so the pipes' own backpressure bounds what waits in memory.
    await new Promise<void>((resolve, reject) => {
      parser.on('data', (token: Token) => {
        if (parser.destroyed) return;
        try {
          consume(token);
        } catch (error) {
          parser.destroy(error as Error);
        }
      });
      parser.once('end', resolve);
      parser.once('error', reject);
    });
  } catch (error) {
    discardAll();
    // The rest of the body is read and dropped, so the answer can still reach the client.
    source.unpipe(limiter);
    source.resume();
    if (error instanceof HubError) throw error;
    if (sourceFailed) throw new BadRequestError('invalid_json', 'Body ended before it was complete.');
    if (error instanceof Error && error.message.startsWith('Parser ')) throw new BadRequestError('invalid_json', 'Body is not valid JSON.');
    throw error;
  }
  if (received === 0) throw new BadRequestError('invalid_json', 'Body is empty but Content-Type is application/json.');
  if (!assembler.done) {
    discardAll();
    throw new BadRequestError('invalid_json', 'Body is not valid JSON.');
  }
  return { body: assembler.current, attachments };
}

/** Spool files a killed process left behind (older than an hour, so another process's files in use stay). */
export function sweepSpool(spoolDir: string, now = Date.now()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(spoolDir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(spoolDir, name);
    try {
      if (now - statSync(path).mtimeMs > 60 * 60 * 1000) {
        rmSync(path, { force: true });
        removed++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}
