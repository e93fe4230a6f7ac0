import { randomUUID } from 'node:crypto';
import { generate } from 'selfsigned';

/** A fresh self-signed certificate for 127.0.0.1 / localhost, usable as its own CA (clients trust it explicitly). */
export async function createLoopbackCertificate(): Promise<{ key: string; cert: string }> {
  // A distinct subject per sandbox: with two self-signed certificates of one name trusted, TLS may pick the wrong one.
  const pems = await generate([{ name: 'commonName', value: `Dataverse sandbox ${randomUUID()}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
