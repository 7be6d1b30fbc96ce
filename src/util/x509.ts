// The one X.509 issuer: the webhook's serving certificates and the local control plane's PKI
// (dev/cluster/pki.ts) are both made here, in-process.
//
// Why an npm X.509 library (@peculiar/x509): Node's crypto generates keys and parses/verifies
// certificates but has no API to issue one, a hand-written ASN.1 encoder is more code to trust, and
// shelling out to the `openssl` CLI would make it a prerequisite (it is not in the controller's image).
// @peculiar/x509 signs through WebCrypto, so keys come from Node's own (async, thread-pool) crypto.
// It resolves its dependency injection through tsyringe, which needs the Reflect metadata polyfill
// loaded first — hence the import order below.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, generateKeyPair, randomBytes, type KeyObject, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { ErrorCodes, ProductError } from './errors.ts';

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const EC_SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const RSA_SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

const generate = promisify(generateKeyPair);

/** A key pair for WebCrypto signing, and its private key as PKCS#8 PEM to write where it is served. */
export interface KeyPair {
  keys: webcrypto.CryptoKeyPair;
  privateKeyPem: string;
}

/** A fresh ECDSA P-256 key pair. */
export async function newKeyPair(): Promise<KeyPair> {
  const { publicKey, privateKey } = await generate('ec', { namedCurve: 'prime256v1' });
  return {
    keys: { publicKey: publicKey.toCryptoKey(EC, true, ['verify']), privateKey: toSigningKey(privateKey) },
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** The CA that signs a certificate: its certificate and its private key. */
export interface Issuer {
  cert: x509.X509Certificate;
  privateKey: webcrypto.CryptoKey;
}

/** An issuer from PEM files' contents (an EC or RSA key, whatever made them). */
export function loadIssuer(certPem: string, keyPem: string): Issuer {
  return { cert: new x509.X509Certificate(certPem), privateKey: toSigningKey(createPrivateKey(keyPem)) };
}

function toSigningKey(key: KeyObject): webcrypto.CryptoKey {
  if (key.asymmetricKeyType === 'ec') return key.toCryptoKey(EC, false, ['sign']);
  if (key.asymmetricKeyType === 'rsa') return key.toCryptoKey(RSA_SIGNING, false, ['sign']);
  throw new ProductError(
    ErrorCodes.INVALID_INPUT,
    `unsupported signing key type ${String(key.asymmetricKeyType)} (expected EC or RSA)`,
  );
}

function signingAlgorithm(key: webcrypto.CryptoKey) {
  return key.algorithm.name === 'ECDSA' ? EC_SIGNING : RSA_SIGNING;
}

/** A subject: its common name and, for client certificates, the organisation Kubernetes reads as a group. */
export interface Subject {
  cn: string;
  o?: string;
}

// A JSON name, not an RFC 4514 string, so that no value needs escaping (`system:masters`, dots).
const name = (s: Subject): x509.JsonName => [...(s.o ? [{ O: [s.o] }] : []), { CN: [s.cn] }];

const serial = () => {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive, as RFC 5280 requires
  return b.toString('hex');
};

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A self-signed CA certificate for `keys`, which signs leaf certificates only. */
export async function createCa(
  o: { subject: Subject; keys: webcrypto.CryptoKeyPair } & Validity,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: name(o.subject),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    signingAlgorithm: signingAlgorithm(o.keys.privateKey),
    keys: o.keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(o.keys.publicKey),
    ],
  });
}

export type Usage = 'server' | 'client';

/** A leaf certificate for `publicKey`, signed by `issuer`, for TLS servers and/or clients. */
export async function issueCertificate(
  o: {
    subject: Subject;
    publicKey: webcrypto.CryptoKey;
    issuer: Issuer;
    usages: readonly Usage[];
    dnsNames?: readonly string[];
    ips?: readonly string[];
  } & Validity,
): Promise<x509.X509Certificate> {
  const sans = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const eku = { server: x509.ExtendedKeyUsage.serverAuth, client: x509.ExtendedKeyUsage.clientAuth };
  // The issuer's own key identifier when it has one (a CA made elsewhere may compute it otherwise).
  const issuerKeyId = o.issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name(o.subject),
    issuer: o.issuer.cert.subjectName,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    signingAlgorithm: signingAlgorithm(o.issuer.privateKey),
    publicKey: o.publicKey,
    signingKey: o.issuer.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(o.usages.map((u) => eku[u])),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
      issuerKeyId
        ? new x509.AuthorityKeyIdentifierExtension(issuerKeyId)
        : await x509.AuthorityKeyIdentifierExtension.create(o.issuer.cert.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(o.publicKey),
    ],
  });
}

/** PEM text ending in a newline, as files and bundles want it. */
export function toPem(cert: x509.X509Certificate): string {
  const s = cert.toString('pem');
  return s.endsWith('\n') ? s : `${s}\n`;
}
