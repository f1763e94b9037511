// TLS for the tests: a throwaway CA and server certificates for
// 127.0.0.1/localhost made with the machine's `openssl` CLI (the wire tap that
// reads TLS handshakes is tls-tap.ts).
//
// For a browser (test/e2e): pass `caSpkiHash` or `spkiHash` to Chromium as
// `--ignore-certificate-errors-spki-list=<hash>`, or trust `caPem`.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './process.ts';

export interface TestCert {
  readonly certPath: string;
  readonly keyPath: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** SHA-256 of the DER certificate, colon-separated hex as node:tls prints it (X509Certificate.fingerprint256). */
  readonly fingerprint256: string;
  /** base64 SHA-256 of the SubjectPublicKeyInfo: Chromium's --ignore-certificate-errors-spki-list value. */
  readonly spkiHash: string;
}

export interface TestPki {
  readonly dir: string;
  readonly caCertPath: string;
  readonly caPem: string;
  readonly caSpkiHash: string;
  /** The first server certificate (CN=localhost, SAN localhost, 127.0.0.1, ::1). */
  readonly server: TestCert;
  /** Another server certificate from the same CA, e.g. for a rotation. */
  issue(name?: string): TestCert;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

export function spkiHashOf(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc'];

/** A CA and a server certificate for 127.0.0.1/localhost (ECDSA P-256, 7 days), in a temp dir removed at exit. */
export function createTestPki(opts: { dir?: string; hosts?: string[] } = {}): TestPki {
  const dir = opts.dir ?? makeTempDir('tls');
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1', '::1'];
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '7',
      '-subj',
      '/CN=volly test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  const caPem = readFileSync(join(dir, 'ca.pem'), 'utf8');
  let n = 0;
  const issue = (name = `server${n === 0 ? '' : `-${n}`}`): TestCert => {
    n++;
    openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${hosts[0]}/O=${name}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-set_serial',
        `0x${randomBytes(12).toString('hex')}`,
        '-days',
        '7',
        '-extfile',
        'server.ext',
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
    const certPem = readFileSync(join(dir, `${name}.pem`), 'utf8');
    return {
      certPath: join(dir, `${name}.pem`),
      keyPath: join(dir, `${name}.key`),
      certPem,
      keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
      fingerprint256: new X509Certificate(certPem).fingerprint256,
      spkiHash: spkiHashOf(certPem),
    };
  };
  return { dir, caCertPath: join(dir, 'ca.pem'), caPem, caSpkiHash: spkiHashOf(caPem), server: issue('server'), issue };
}
