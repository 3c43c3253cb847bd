import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/*
 * A certificate authority of the test's own and a server certificate it signed for localhost and
 * 127.0.0.1, made with the openssl command (Debian's openssl package), so TLS checks can pass the
 * way they do in production: against a trusted chain, not with verification turned off.
 */

export interface TestCertificates {
  caPem: string;
  caFile: string;
  keyPem: string;
  certPem: string;
  /** A certificate for 127.0.0.1 that signs itself: what a misconfigured relay offers. */
  selfSigned: { keyPem: string; certPem: string };
}

const run = promisify(execFile);

export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  const file = (name: string) => path.join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Baton Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  ]);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    file('self.key'),
    '-out',
    file('self.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const selfSigned = { keyPem: await readFile(file('self.key'), 'utf8'), certPem: await readFile(file('self.pem'), 'utf8') };
  return {
    selfSigned,
    caPem: await readFile(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    keyPem: await readFile(file('server.key'), 'utf8'),
    certPem: await readFile(file('server.pem'), 'utf8'),
  };
}
