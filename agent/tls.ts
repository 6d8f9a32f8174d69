// The agent's TLS identity: a key and a self-signed certificate made on first start (or given ones), and the
// SHA-256 fingerprint cockpits pin, like SSH's known hosts. No CA is involved: the fingerprint is the trust.
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, renameSync, writeSync, closeSync, fsyncSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AgentError, systemCode } from './errors.ts';


x509.cryptoProvider.set(webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]>);

export interface TlsIdentity {
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8). */
  key: string;
  /** SHA-256 of the certificate's DER: uppercase hex pairs joined by colons (Node's X509Certificate.fingerprint256). */
  fingerprint: string;
  /** Where the certificate came from, for the operator's note. */
  origin: 'made' | 'kept' | 'given';
  certFile: string;
}

export interface TlsSource {
  /** Folder holding cert.pem and key.pem, made on first start. */
  dir: string;
  /** A given certificate and key (PEM files) instead of the made ones. */
  certFile?: string;
  keyFile?: string;
  /** Names the made certificate lists (subjectAltName): host names and addresses it is reached by. */
  names: string[];
  commonName: string;
}

const VALID_DAYS = 3650;

/** Makes an ECDSA P-256 key and a self-signed certificate for it (server and client use), as PEM. */
export async function makeSelfSigned(commonName: string, names: string[], days = VALID_DAYS): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const unique = [...new Set(names.filter((n) => n.length > 0 && n.length <= 253))];
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: [{ CN: [commonName.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64) || 'cordon'] }, { O: ['Cordon'] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * 86_400_000),
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ...(unique.length > 0 ? [new x509.SubjectAlternativeNameExtension(unique.map((n) => ({ type: isIP(n) ? 'ip' as const : 'dns' as const, value: n })))] : []),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

/**
 * The agent's identity: given files, or the pair kept in `dir`, or a new pair made there on first start. A folder
 * holding only one of the two files is refused rather than repaired: a new key would change the fingerprint every
 * cockpit pinned, and that is the operator's decision.
 */
export async function loadTlsIdentity(source: TlsSource): Promise<TlsIdentity> {
  if (source.certFile !== undefined || source.keyFile !== undefined) {
    if (source.certFile === undefined || source.keyFile === undefined) {
      throw new AgentError('bad_flag', '--tls-cert and --tls-key go together: give both files (PEM), or neither to let the agent make its own.');
    }
    return checked(readPem(source.certFile, 'certificate'), readPem(source.keyFile, 'key'), 'given', source.certFile);
  }
  const certFile = join(source.dir, 'cert.pem');
  const keyFile = join(source.dir, 'key.pem');
  const haveCert = existsSync(certFile);
  const haveKey = existsSync(keyFile);
  if (haveCert && haveKey) return checked(readPem(certFile, 'certificate'), readPem(keyFile, 'key'), 'kept', certFile);
  if (haveCert !== haveKey) {
    throw new AgentError('tls_incomplete', `${source.dir} holds ${haveCert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}: restore the missing file from a backup, or remove the folder to make a new identity (every cockpit will then see a new fingerprint and refuse it until its pin is removed).`);
  }
  const made = await makeSelfSigned(source.commonName, source.names);
  try {
    mkdirSync(source.dir, { recursive: true, mode: 0o700 });
    writeDurably(keyFile, made.key, 0o600);
    writeDurably(certFile, made.cert, 0o644);
  } catch (err) {
    throw new AgentError('tls_unwritable', `Cannot keep the new TLS identity in ${source.dir} (${systemCode(err)}): pick another --tls-dir or --data-dir.`, { cause: err });
  }
  return checked(made.cert, made.key, 'made', certFile);
}

/** The names a made certificate lists: the listen address, this host, and loopback. */
export function defaultNames(listenHost: string, agentId: string): string[] {
  const names = [listenHost, agentId, hostname(), 'localhost', '127.0.0.1', '::1'];
  return names.filter((n) => n !== '0.0.0.0' && n !== '::' && (isIP(n) !== 0 || /^[A-Za-z0-9.-]+$/.test(n)));
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentError('tls_unreadable', `Cannot read the TLS ${what} ${file} (${systemCode(err)}): check the path and its permissions.`, { cause: err });
  }
}

function checked(cert: string, key: string, origin: TlsIdentity['origin'], certFile: string): TlsIdentity {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (err) {
    throw new AgentError('tls_bad_cert', `${certFile} is not a PEM certificate: ${(err as Error).message.slice(0, 200)}.`, { cause: err });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new AgentError('tls_bad_key', `The TLS key beside ${certFile} is not a PEM private key: ${(err as Error).message.slice(0, 200)}.`, { cause: err });
  }
  if (!parsed.checkPrivateKey(privateKey)) {
    throw new AgentError('tls_key_mismatch', `The TLS key does not belong to the certificate ${certFile}: give the key the certificate was made for.`);
  }
  return { cert, key, fingerprint: parsed.fingerprint256, origin, certFile };
}

function writeDurably(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
