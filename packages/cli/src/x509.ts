/**
 * X.509 certificates made with `node:crypto` alone: ECDSA P-256 keys, and certificates encoded
 * in DER here (Node parses certificates but does not make them). Enough for a development CA and
 * its members' certificates; real deployments bring certificates of their own (docs/security.md).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** What a certificate says of its holder. */
export interface CertificateSubject {
  /** The common name: for a member, its name in the cluster file. */
  commonName: string;
  /** DNS names and IP addresses it is valid for (the common name is added as a DNS name). @default [] */
  altNames?: readonly string[];
  /** Start of validity. @default one hour ago */
  notBefore?: Date;
  /** End of validity. @default in 825 days */
  notAfter?: Date;
}

// ---- DER ----------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest >>>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const explicit = (n: number, item: Buffer): Buffer => tlv(0xa0 + n, item);
const octets = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const bits = (bytes: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), bytes);
const utf8 = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));

function integer(bytes: Buffer): Buffer {
  // A leading zero keeps a value with its top bit set positive.
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  // UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), octets(value));
}

function altName(name: string): Buffer {
  if (isIP(name) === 4) return tlv(0x87, Buffer.from(name.split('.').map(Number)));
  return tlv(0x82, Buffer.from(name, 'ascii'));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---- certificates -------------------------------------------------------------------------

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const name = (commonName: string): Buffer => sequence(tlv(0x31, sequence(oid('2.5.4.3'), utf8(commonName))));
const keyId = (publicKey: KeyObject): Buffer => createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
const DAY_MS = 86_400_000;

interface Issuer {
  commonName: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function certificate(subject: CertificateSubject, publicKey: KeyObject, issuer: Issuer, isCa: boolean): string {
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  serial[0]! |= 0x01;
  const altNames = [...new Set([subject.commonName, ...(subject.altNames ?? [])])];
  const extensions = isCa
    ? [
        extension('2.5.29.19', true, sequence(tlv(0x01, Buffer.from([0xff])))), // basicConstraints: a CA
        extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1)), // keyUsage: keyCertSign, cRLSign
        extension('2.5.29.14', false, octets(keyId(publicKey))),
      ]
    : [
        extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
        extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), // keyUsage: digitalSignature
        extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))), // serverAuth, clientAuth
        extension('2.5.29.17', false, sequence(...altNames.map(altName))),
        extension('2.5.29.14', false, octets(keyId(publicKey))),
        extension('2.5.29.35', false, sequence(tlv(0x80, keyId(issuer.publicKey)))),
      ];
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name(issuer.commonName),
    sequence(time(subject.notBefore ?? new Date(now - 3_600_000)), time(subject.notAfter ?? new Date(now + 825 * DAY_MS))),
    name(subject.commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer.privateKey);
  return pem('CERTIFICATE', sequence(tbs, ECDSA_WITH_SHA256, bits(signature)));
}

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function keyPem(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A new self-signed certificate authority. */
export function createCertificateAuthority(subject: CertificateSubject): CertificatePair {
  const { privateKey, publicKey } = keyPair();
  const cert = certificate(subject, publicKey, { commonName: subject.commonName, privateKey, publicKey }, true);
  return { cert, key: keyPem(privateKey) };
}

/** A new key and a certificate for it, signed by `ca`, valid for client and server use. */
export function issueCertificate(ca: CertificatePair, subject: CertificateSubject): CertificatePair {
  const { privateKey, publicKey } = keyPair();
  const caKey = createPrivateKey(ca.key);
  const caName = /^CN=(.*)$/m.exec(new X509Certificate(ca.cert).subject)?.[1];
  if (caName === undefined) throw new TypeError('the CA certificate has no common name');
  const issuer: Issuer = { commonName: caName, privateKey: caKey, publicKey: createPublicKey(caKey) };
  return { cert: certificate(subject, publicKey, issuer, false), key: keyPem(privateKey) };
}
