import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';
import { freePort } from '../../scripts/free-port.js';
import { startInProcessSftp } from './in-process-sftp.js';
import { tempDir } from './build-test-app.js';

const SSHD = '/usr/sbin/sshd';

export interface TestSftpServer {
  kind: 'openssh' | 'in-process';
  /** The hub's SFTP_* settings for this server. */
  env: Record<string, string>;
  /** Where uploads land on this machine (SFTP_REMOTE_DIR is this path). */
  uploadDir: string;
  hostKeySha256: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** In-process server only: while true, uploads hang (writes are never answered). */
  stall?: { stallWrites: boolean };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

let announced = false;

/**
 * A real OpenSSH sshd on a loopback port (own config, host key and client key; the current user logs in with the
 * key), or, where sshd is not installed, an in-process SFTP server on the ssh2 package, which the output says.
 * Under CI=true a missing sshd is an error: CI must test against OpenSSH.
 */
export async function startSftpServer(options: { inProcess?: boolean } = {}): Promise<TestSftpServer> {
  const dir = tempDir('hub-sftp-');
  const uploadDir = join(dir, 'upload');
  mkdirSync(uploadDir);
  const port = await freePort();
  if (!options.inProcess && existsSync(SSHD)) return startOpenSsh(dir, uploadDir, port);
  if (!options.inProcess && process.env.CI === 'true') throw new Error(`${SSHD} is missing: CI installs openssh-server (see .ci/run)`);
  if (!options.inProcess && !announced) {
    console.warn('[sftp tests] OpenSSH sshd is not installed: running the SFTP tests against an in-process ssh2 server instead.');
    announced = true;
  }
  const credentials = { username: 'hubtest', password: 'Secret123!' };
  const stall = { stallWrites: false };
  let server = await startInProcessSftp(dir, credentials, port, stall);
  const handle: TestSftpServer = {
    kind: 'in-process',
    uploadDir,
    hostKeySha256: server.fingerprint,
    env: { SFTP_HOST: '127.0.0.1', SFTP_PORT: String(port), SFTP_USERNAME: credentials.username, SFTP_PASSWORD: credentials.password, SFTP_REMOTE_DIR: uploadDir },
    stop: () => server.close(),
    start: async () => void (server = await startInProcessSftp(dir, credentials, port, stall)),
    stall,
  };
  onTestFinished(() => handle.stop().catch(() => undefined));
  return handle;
}

async function startOpenSsh(dir: string, uploadDir: string, port: number): Promise<TestSftpServer> {
  const hostKey = join(dir, 'host_key');
  const clientKey = join(dir, 'client_key');
  for (const key of [hostKey, clientKey]) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  // sshd insists on its privilege-separation folder.
  mkdirSync('/run/sshd', { recursive: true });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      // The test's key files live in a temp folder whose modes sshd would otherwise reject.
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const fingerprint = /SHA256:(\S+)/.exec(execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).toString())![1]!;
  let child: ChildProcess | null = null;
  let log = '';
  const start = async () => {
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk) => (log += chunk));
    await waitForPort(port).catch((error: Error) => {
      throw new Error(`${error.message}; sshd said: ${log}`);
    });
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.on('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  const handle: TestSftpServer = {
    kind: 'openssh',
    uploadDir,
    hostKeySha256: fingerprint,
    env: { SFTP_HOST: '127.0.0.1', SFTP_PORT: String(port), SFTP_USERNAME: userInfo().username, SFTP_PRIVATE_KEY_PATH: clientKey, SFTP_REMOTE_DIR: uploadDir },
    stop,
    start,
  };
  onTestFinished(() => stop());
  return handle;
}
