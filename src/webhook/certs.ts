// The webhook's serving certificate: made in-process (src/util/x509.ts), kept where every replica
// finds it, re-issued before it expires.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { isConflict, isNotFound } from '../kube/client.ts';
import { ErrorCodes, ProductError, describeError } from '../util/errors.ts';
import { createCa, issueCertificate, newKeyPair, toPem } from '../util/x509.ts';

const DAY = 86_400_000;
export const DEFAULT_VALIDITY_MS = 365 * DAY;
export const DEFAULT_RENEW_BEFORE_MS = 30 * DAY;
/** Certificates start an hour in the past so an API server whose clock lags a little accepts them. */
const BACKDATE_MS = 3_600_000;

/** PEM texts: what is served, and the CA bundle the API server must trust to call us. */
export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** The CA that signed `certPem`, then the previous CA while it is still valid (rotation overlap). */
  caBundlePem: string;
}

export interface IssueOptions {
  dnsNames: readonly string[];
  ips: readonly string[];
  now: number;
  validityMs?: number;
  /** The material being replaced; its CA stays in the new bundle so its certificate stays trusted. */
  previous?: TlsMaterial;
}

/**
 * A fresh CA and a serving certificate it signs for `dnsNames` and `ips`. Each rotation makes a new
 * CA, so the CA's private key is used once and never stored anywhere.
 */
export async function issueServingCertificate(o: IssueOptions): Promise<TlsMaterial> {
  if (o.dnsNames.length + o.ips.length === 0) {
    throw new ProductError(ErrorCodes.INVALID_INPUT, 'webhook certificate needs at least one DNS name or IP');
  }
  for (const ip of o.ips) {
    if (!isIP(ip))
      throw new ProductError(ErrorCodes.INVALID_INPUT, `webhook certificate IP ${ip} is not an IP`);
  }
  const notBefore = new Date(o.now - BACKDATE_MS);
  const notAfter = new Date(o.now + (o.validityMs ?? DEFAULT_VALIDITY_MS));
  const [ca, leaf] = await Promise.all([newKeyPair(), newKeyPair()]);
  const caCert = await createCa({
    subject: { cn: `eci-virtual-node-webhook-ca-${new Date(o.now).toISOString().slice(0, 10)}` },
    keys: ca.keys,
    notBefore,
    notAfter,
  });
  const cert = await issueCertificate({
    subject: { cn: o.dnsNames[0] ?? o.ips[0] ?? '' },
    publicKey: leaf.keys.publicKey,
    issuer: { cert: caCert, privateKey: ca.keys.privateKey },
    usages: ['server'],
    dnsNames: o.dnsNames,
    ips: o.ips,
    notBefore,
    notAfter,
  });
  const keep = o.previous ? issuerOf(o.previous, o.now) : undefined;
  return {
    certPem: toPem(cert),
    keyPem: leaf.privateKeyPem,
    caBundlePem: toPem(caCert) + (keep ? pem(keep.toString()) : ''),
  };
}

const pem = (s: string) => (s.endsWith('\n') ? s : `${s}\n`);

export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The still-valid CA in `m`'s bundle that signed its certificate, if any. */
function issuerOf(m: TlsMaterial, now: number): X509Certificate | undefined {
  try {
    const leaf = new X509Certificate(m.certPem);
    return splitPem(m.caBundlePem)
      .map((p) => new X509Certificate(p))
      .find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey) && ca.validToDate.getTime() > now);
  } catch {
    return undefined;
  }
}

export interface CertificateInfo {
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

export function certificateInfo(certPem: string): CertificateInfo {
  const c = new X509Certificate(certPem);
  return {
    serialNumber: c.serialNumber,
    notBefore: c.validFromDate,
    notAfter: c.validToDate,
    fingerprint256: c.fingerprint256,
  };
}

export interface UsableOptions {
  dnsNames: readonly string[];
  ips: readonly string[];
  now: number;
  renewBeforeMs?: number;
}

/**
 * Why `m` must not be served (undefined when it may): unparsable, key and certificate do not
 * belong together, not signed by a CA in its bundle, missing a name we serve under, or expiring
 * within `renewBeforeMs`.
 */
export function unusableReason(m: TlsMaterial, o: UsableOptions): string | undefined {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(m.certPem);
  } catch (err) {
    return `certificate does not parse (${describeError(err)})`;
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(m.keyPem)))
      return 'private key does not match the certificate';
  } catch {
    return 'private key does not parse';
  }
  let cas: X509Certificate[];
  try {
    cas = splitPem(m.caBundlePem).map((p) => new X509Certificate(p));
  } catch (err) {
    return `CA bundle does not parse (${describeError(err)})`;
  }
  if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) {
    return 'certificate is not signed by a CA in the bundle';
  }
  for (const name of o.dnsNames) {
    if (leaf.checkHost(name, { subject: 'never', wildcards: false }) === undefined)
      return `does not cover ${name}`;
  }
  for (const ip of o.ips) if (leaf.checkIP(ip) === undefined) return `does not cover ${ip}`;
  if (leaf.validFromDate.getTime() > o.now + BACKDATE_MS) return 'not valid yet';
  const left = leaf.validToDate.getTime() - o.now;
  if (left <= (o.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS)) {
    return `expires ${leaf.validToDate.toISOString()} (${Math.max(0, Math.floor(left / DAY))} days left)`;
  }
  return undefined;
}

/** Where the serving certificate is kept, so replicas and restarts share one. */
export interface CertStore {
  /** For log lines, e.g. `secret kube-system/eci-virtual-node-webhook-tls`. */
  readonly description: string;
  /** The stored material and its version, or undefined when nothing is stored. */
  load(): Promise<{ material: TlsMaterial; version?: string } | undefined>;
  /**
   * Stores `material` if the store still holds `version` (undefined: if it holds nothing).
   * Returns false when another writer got there first; the caller reloads and adopts theirs.
   */
  save(material: TlsMaterial, version: string | undefined): Promise<boolean>;
}

/** A store for one process (no cluster to share with, e.g. a local control plane). */
export class MemoryCertStore implements CertStore {
  readonly description = 'memory';
  #held: { material: TlsMaterial; version: string } | undefined;
  #n = 0;

  async load() {
    return this.#held && { ...this.#held };
  }

  async save(material: TlsMaterial, version: string | undefined): Promise<boolean> {
    if (this.#held?.version !== version) return false;
    this.#held = { material, version: String(++this.#n) };
    return true;
  }
}

/**
 * A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`, and `ca.crt` holding the CA bundle). Writes
 * carry the read resourceVersion, so two replicas rotating at once cannot overwrite each other.
 */
export class SecretCertStore implements CertStore {
  readonly description: string;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #name: string;

  constructor(core: CoreV1Api, namespace: string, name: string) {
    this.#core = core;
    this.#namespace = namespace;
    this.#name = name;
    this.description = `secret ${namespace}/${name}`;
  }

  async load() {
    let s: V1Secret;
    try {
      s = await this.#core.readNamespacedSecret({ namespace: this.#namespace, name: this.#name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new ProductError(ErrorCodes.KUBE_API, `cannot read ${this.description}: ${describeError(err)}`, {
        cause: err,
      });
    }
    const text = (k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8');
    return {
      material: { certPem: text('tls.crt'), keyPem: text('tls.key'), caBundlePem: text('ca.crt') },
      version: s.metadata?.resourceVersion,
    };
  }

  async save(material: TlsMaterial, version: string | undefined): Promise<boolean> {
    const b64 = (t: string) => Buffer.from(t, 'utf8').toString('base64');
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.#name,
        namespace: this.#namespace,
        labels: { 'app.kubernetes.io/managed-by': 'eci-virtual-node' },
        ...(version ? { resourceVersion: version } : {}),
      },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': b64(material.certPem),
        'tls.key': b64(material.keyPem),
        'ca.crt': b64(material.caBundlePem),
      },
    };
    try {
      if (version === undefined)
        await this.#core.createNamespacedSecret({ namespace: this.#namespace, body });
      else await this.#core.replaceNamespacedSecret({ namespace: this.#namespace, name: this.#name, body });
      return true;
    } catch (err) {
      if (isConflict(err) || (version !== undefined && isNotFound(err))) return false;
      throw new ProductError(ErrorCodes.KUBE_API, `cannot write ${this.description}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }
}
