import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { onTestFinished } from 'vitest';

export interface TestSmtpServer {
  port: number;
  messages: ParsedMail[];
  /** Stops accepting connections (the port is kept for a restart). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A real SMTP server (npm smtp-server) on 127.0.0.1 that parses what it receives. */
export async function startSmtpServer(port = 0): Promise<TestSmtpServer> {
  const messages: ParsedMail[] = [];
  let server: SMTPServer | null = null;
  const listen = async (wanted: number) => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
      onData: (stream, _session, callback) => {
        simpleParser(stream).then((mail) => {
          messages.push(mail);
          callback();
        }, callback);
      },
    });
    await new Promise<void>((resolve) => server!.listen(wanted, '127.0.0.1', resolve));
    return (server.server.address() as AddressInfo).port;
  };
  const bound = await listen(port);
  const handle: TestSmtpServer = {
    port: bound,
    messages,
    stop: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())).then(() => void (server = null)),
    start: async () => void (await listen(bound)),
  };
  onTestFinished(() => handle.stop());
  return handle;
}
