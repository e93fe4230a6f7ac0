import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import ssh2 from 'ssh2';

const { Server, utils } = ssh2;
const { STATUS_CODE } = utils.sftp;

const attrs = (s: Stats) => ({ mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: Math.floor(s.atimeMs / 1000), mtime: Math.floor(s.mtimeMs / 1000) });

/**
 * An SFTP server on the `ssh2` package's Server, for machines without OpenSSH: password auth, real files under
 * `root`, and the requests ssh2-sftp-client sends for mkdir, put, exists, rename and delete. No posix-rename
 * extension, like some real servers.
 */
export async function startInProcessSftp(root: string, credentials: { username: string; password: string }, port = 0, control: { stallWrites: boolean } = { stallWrites: false }) {
  // ssh2's own ed25519 keys fail its own parser now and then (6 in 2 000 here: "Malformed OpenSSH private key",
  // which made a CI run fail); its ECDSA keys parsed 300 times out of 300.
  const hostKey = utils.generateKeyPairSync('ecdsa', { bits: 256 });
  const fingerprint = createHash('sha256').update(Buffer.from(hostKey.public.split(' ')[1]!, 'base64')).digest('base64').replace(/=+$/, '');
  const inside = (path: string) => {
    const full = resolve(root, path);
    if (full !== root && !full.startsWith(`${root}/`)) throw new Error('outside root');
    return full;
  };
  const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && ctx.username === credentials.username && ctx.password === credentials.password) ctx.accept();
      else ctx.reject(['password']);
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        acceptSession().on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<number, { fd?: number; entries?: string[]; path: string }>();
          let next = 0;
          const handle = (value: { fd?: number; entries?: string[]; path: string }) => {
            const id = next++;
            handles.set(id, value);
            const buf = Buffer.alloc(4);
            buf.writeUInt32BE(id);
            return buf;
          };
          const get = (buf: Buffer) => handles.get(buf.readUInt32BE(0));
          const guard = (reqid: number, work: () => void) => {
            try {
              work();
            } catch (error) {
              sftp.status(reqid, (error as NodeJS.ErrnoException).code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE);
            }
          };
          sftp.on('REALPATH', (reqid, path) => guard(reqid, () => sftp.name(reqid, [{ filename: resolve(root, path), longname: path, attrs: {} as never }])));
          const stat = (reqid: number, path: string) => guard(reqid, () => sftp.attrs(reqid, attrs(statSync(inside(path)))));
          sftp.on('STAT', stat);
          sftp.on('LSTAT', stat);
          sftp.on('FSTAT', (reqid, buf) => guard(reqid, () => sftp.attrs(reqid, attrs(fstatSync(get(buf)!.fd!)))));
          sftp.on('OPEN', (reqid, filename, flags) => guard(reqid, () => sftp.handle(reqid, handle({ fd: openSync(inside(filename), utils.sftp.flagsToString(flags) ?? 'r'), path: filename }))));
          // A stalled server takes the bytes and never answers: the client's put hangs.
          sftp.on('WRITE', (reqid, buf, offset, data) => control.stallWrites || guard(reqid, () => (writeSync(get(buf)!.fd!, data, 0, data.length, offset), sftp.status(reqid, STATUS_CODE.OK))));
          sftp.on('READ', (reqid, buf, offset, length) =>
            guard(reqid, () => {
              const data = Buffer.alloc(length);
              const read = readSync(get(buf)!.fd!, data, 0, length, offset);
              if (read === 0) sftp.status(reqid, STATUS_CODE.EOF);
              else sftp.data(reqid, data.subarray(0, read));
            }),
          );
          sftp.on('CLOSE', (reqid, buf) =>
            guard(reqid, () => {
              const h = get(buf);
              if (h?.fd !== undefined) closeSync(h.fd);
              handles.delete(buf.readUInt32BE(0));
              sftp.status(reqid, STATUS_CODE.OK);
            }),
          );
          sftp.on('OPENDIR', (reqid, path) => guard(reqid, () => sftp.handle(reqid, handle({ entries: readdirSync(inside(path)), path }))));
          sftp.on('READDIR', (reqid, buf) =>
            guard(reqid, () => {
              const h = get(buf)!;
              if (!h.entries?.length) return sftp.status(reqid, STATUS_CODE.EOF);
              const names = h.entries.splice(0).map((filename) => ({ filename, longname: filename, attrs: attrs(statSync(inside(`${h.path}/${filename}`))) }));
              sftp.name(reqid, names);
            }),
          );
          sftp.on('MKDIR', (reqid, path) => guard(reqid, () => (mkdirSync(inside(path)), sftp.status(reqid, STATUS_CODE.OK))));
          sftp.on('RENAME', (reqid, from, to) =>
            guard(reqid, () => {
              // SFTP v3 rename refuses to replace an existing file.
              try {
                statSync(inside(to));
                return sftp.status(reqid, STATUS_CODE.FAILURE);
              } catch {
                renameSync(inside(from), inside(to));
              }
              sftp.status(reqid, STATUS_CODE.OK);
            }),
          );
          sftp.on('REMOVE', (reqid, path) => guard(reqid, () => (rmSync(inside(path)), sftp.status(reqid, STATUS_CODE.OK))));
        });
      });
    });
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return { port: (server.address() as AddressInfo).port, fingerprint, close: () => new Promise<void>((done) => server.close(() => done())) };
}
