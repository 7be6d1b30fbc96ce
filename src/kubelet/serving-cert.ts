// The kubelet API's TLS serving certificate, chosen in this order:
//   1. files given by --tls-cert-file / --tls-private-key-file (in a cluster: a mounted Secret),
//      re-read when they change;
//   2. a certificate from the cluster: a CertificateSigningRequest with signer
//      kubernetes.io/kubelet-serving for the node's addresses, as a kubelet with
//      --rotate-server-certificates makes it, renewed at 80 % of its life, kept in --cert-dir;
//   3. a self-signed certificate, with a warning: an API server that verifies kubelet certificates
//      (--kubelet-certificate-authority) refuses it, so logs and exec fail until 1 or 2 is in place.
// Until a CSR is approved, 3 is served.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, generateKeyPair, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CertificatesV1Api, type V1CertificateSigningRequest } from '@kubernetes/client-node';
import { httpStatus, type KubeClients } from '../kube/client.ts';
import type { EventTarget, EventType } from '../kube/events.ts';
import { runWatchLoop } from '../kube/watch.ts';
import type { Clock } from '../util/clock.ts';
import { describeError, ErrorCodes, ProductError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { issueServingCertificate } from '../webhook/certs.ts';

export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const RETRY_MS = 10 * 60_000;
const CERT_FILE = 'kubelet-server-current.pem';

export interface TlsPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export type CertSource = 'files' | 'csr' | 'self-signed';

export interface ServingCertOptions {
  nodeName: string;
  /** The addresses the API server dials (the Node's addresses); every one is in the certificate. */
  ips: readonly string[];
  dnsNames: readonly string[];
  /** --tls-cert-file / --tls-private-key-file. */
  files?: { cert: string; key: string };
  /** --cert-dir: where a cluster-issued certificate and its key are kept across restarts. */
  certDir?: string;
  /** --approve-own-serving-csr: approve our own CSR (needs RBAC to approve for the signer). */
  approveOwn: boolean;
  kube: KubeClients;
  /** Events about the Node (how to approve, denials). */
  event: (target: EventTarget, type: EventType, reason: string, message: string) => void;
  clock: Clock;
  log: Logger;
}

/** What a serving certificate must satisfy: it parses, matches its key, and covers our addresses. */
export function unusable(pair: TlsPair, ips: readonly string[], now: number): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.certPem);
  } catch (err) {
    return `the certificate does not parse (${describeError(err)})`;
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem)))
      return 'the key does not belong to the certificate';
  } catch (err) {
    return `the key does not parse (${describeError(err)})`;
  }
  for (const ip of ips) if (cert.checkIP(ip) === undefined) return `it does not cover ${ip}`;
  if (cert.validToDate.getTime() <= now) return `it expired ${cert.validToDate.toISOString()}`;
  return undefined;
}

/** When a certificate is renewed: at 80 % of its lifetime (kubelet renews between 70 and 90 %). */
export function renewAt(certPem: string): number {
  const c = new X509Certificate(certPem);
  const from = c.validFromDate.getTime();
  return from + 0.8 * (c.validToDate.getTime() - from);
}

/**
 * The serving certificate and its renewal. `init()` makes one available at once (files, a kept
 * cluster-issued one, or a temporary self-signed one); `run()` keeps it current; `onChange` tells
 * the server to swap its TLS context.
 */
export class ServingCertificate {
  readonly #o: ServingCertOptions;
  #current: TlsPair | undefined;
  #source: CertSource = 'self-signed';
  readonly #listeners: ((p: TlsPair) => void)[] = [];
  #fileStamp = '';

  constructor(o: ServingCertOptions) {
    this.#o = o;
  }

  get current(): TlsPair {
    if (!this.#current) throw new Error('ServingCertificate.init() was not called');
    return this.#current;
  }

  get source(): CertSource {
    return this.#source;
  }

  onChange(cb: (p: TlsPair) => void): void {
    this.#listeners.push(cb);
  }

  async init(): Promise<void> {
    const { files, log } = this.#o;
    if (files) {
      const pair = await this.#readFiles();
      if (pair) {
        this.#set(pair, 'files');
        log.info({ cert: files.cert }, 'kubelet API serving certificate from --tls-cert-file');
        return;
      }
      log.info(
        { cert: files.cert, key: files.key },
        'no certificate at --tls-cert-file/--tls-private-key-file (Secret not created?); requesting one from the cluster',
      );
    }
    const kept = await this.#readKept();
    if (kept) {
      this.#set(kept, 'csr');
      log.info({ certDir: this.#o.certDir }, 'kubelet API serving certificate issued by the cluster earlier');
      return;
    }
    this.#set(await this.#selfSigned(), 'self-signed');
  }

  async run(signal: AbortSignal): Promise<void> {
    if (this.#source === 'files') return this.#watchFiles(signal);
    while (!signal.aborted) {
      if (this.#source === 'csr') {
        const wait = renewAt(this.current.certPem) - this.#o.clock.now();
        if (wait > 0) {
          await this.#o.clock.sleep(Math.min(wait, 2 ** 31 - 1), signal).catch(() => undefined);
          if (signal.aborted) return;
          if (renewAt(this.current.certPem) > this.#o.clock.now()) continue;
        }
      }
      const done = await this.#requestFromCluster(signal).catch((err: unknown) => {
        if (!signal.aborted)
          this.#o.log.warn({ err: describeError(err) }, 'kubelet serving certificate request failed');
        return false;
      });
      if (!done) await this.#o.clock.sleep(RETRY_MS, signal).catch(() => undefined);
    }
  }

  #set(pair: TlsPair, source: CertSource): void {
    this.#current = pair;
    this.#source = source;
    for (const cb of this.#listeners) cb(pair);
  }

  async #readFiles(): Promise<TlsPair | undefined> {
    const { files } = this.#o;
    if (!files) return undefined;
    let certPem: string;
    let keyPem: string;
    try {
      [certPem, keyPem] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
      const [a, b] = await Promise.all([stat(files.cert), stat(files.key)]);
      this.#fileStamp = `${a.mtimeMs}/${b.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ProductError(
        ErrorCodes.CONFIG_INVALID,
        `--tls-cert-file/--tls-private-key-file: ${describeError(err)}`,
      );
    }
    const why = unusable({ certPem, keyPem }, [], this.#o.clock.now());
    if (why) {
      throw new ProductError(ErrorCodes.CONFIG_INVALID, `--tls-cert-file ${files.cert}: ${why}`);
    }
    return { certPem, keyPem };
  }

  /** A mounted Secret changes in place: re-read the files when their times change. */
  async #watchFiles(signal: AbortSignal): Promise<void> {
    const { files, clock, log } = this.#o;
    while (!signal.aborted) {
      await clock.sleep(60_000, signal).catch(() => undefined);
      if (signal.aborted) return;
      try {
        const [a, b] = await Promise.all([stat(files!.cert), stat(files!.key)]);
        if (`${a.mtimeMs}/${b.mtimeMs}` === this.#fileStamp) continue;
        const pair = await this.#readFiles();
        if (pair) {
          this.#set(pair, 'files');
          log.info(
            { cert: files!.cert },
            'kubelet API serving certificate files changed; now serving the new one',
          );
        }
      } catch (err) {
        log.warn(
          { err: describeError(err) },
          'cannot re-read the kubelet serving certificate files; keeping the current one',
        );
      }
    }
  }

  async #readKept(): Promise<TlsPair | undefined> {
    if (!this.#o.certDir) return undefined;
    const text = await readFile(path.join(this.#o.certDir, CERT_FILE), 'utf8').catch(() => undefined);
    if (!text) return undefined;
    const certPem =
      text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.join('') ?? '';
    const keyPem = text.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/)?.[0] ?? '';
    const pair = { certPem, keyPem };
    const why = unusable(pair, this.#o.ips, this.#o.clock.now());
    if (why) {
      this.#o.log.info(
        { certDir: this.#o.certDir, why },
        'the kept kubelet serving certificate is not usable; requesting a new one',
      );
      return undefined;
    }
    return pair;
  }

  async #keep(pair: TlsPair): Promise<void> {
    const dir = this.#o.certDir;
    if (!dir) return;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, CERT_FILE);
      await writeFile(`${file}.tmp`, pair.certPem + pair.keyPem, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    } catch (err) {
      this.#o.log.warn(
        { certDir: dir, err: describeError(err) },
        'cannot keep the kubelet serving certificate; a restart will request a new one',
      );
    }
  }

  async #selfSigned(): Promise<TlsPair> {
    const m = await issueServingCertificate({
      dnsNames: this.#o.dnsNames,
      ips: this.#o.ips,
      now: this.#o.clock.now(),
    });
    this.#o.log.warn(
      'kubelet API serves a self-signed certificate for now: an API server that verifies kubelet certificates ' +
        '(--kubelet-certificate-authority) refuses it, so kubectl logs/exec fail until the serving CSR is approved ' +
        'or --tls-cert-file is given',
    );
    return { certPem: m.certPem, keyPem: m.keyPem };
  }

  /** One CSR round: create, (approve,) wait for the certificate. True when a certificate was issued. */
  async #requestFromCluster(signal: AbortSignal): Promise<boolean> {
    const { nodeName, kube, log, clock } = this.#o;
    const api = kube.api(CertificatesV1Api);
    const { publicKey, privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'prime256v1' });
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=system:node:${nodeName}, O=system:nodes`,
      keys: {
        publicKey: publicKey.toCryptoKey(EC, true, ['verify']),
        privateKey: privateKey.toCryptoKey(EC, false, ['sign']),
      },
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          ...this.#o.dnsNames.map((value) => ({ type: 'dns' as const, value })),
          ...this.#o.ips.map((value) => ({ type: 'ip' as const, value })),
        ]),
      ],
    });
    let created: V1CertificateSigningRequest;
    try {
      created = await api.createCertificateSigningRequest({
        body: {
          apiVersion: 'certificates.k8s.io/v1',
          kind: 'CertificateSigningRequest',
          metadata: {
            generateName: `${nodeName}-serving-`,
            labels: { 'app.kubernetes.io/managed-by': 'eci-virtual-node' },
          },
          spec: {
            request: Buffer.from(csr.toString('pem')).toString('base64'),
            signerName: KUBELET_SERVING_SIGNER,
            usages: ['digital signature', 'server auth'],
          },
        },
      });
    } catch (err) {
      const status = httpStatus(err);
      const why =
        status === 403
          ? 'not allowed to create CertificateSigningRequests (RBAC)'
          : status === 404
            ? 'the cluster has no certificates.k8s.io/v1 API'
            : describeError(err);
      log.warn({ err: why }, 'cannot request a kubelet serving certificate; keeping the self-signed one');
      this.#o.event(
        { kind: 'Node', namespace: 'default', name: nodeName },
        'Warning',
        'ServingCertificateRequestFailed',
        `cannot create a CSR for the kubelet serving certificate: ${why}`,
      );
      return false;
    }
    const name = created.metadata!.name!;
    let approved = false;
    if (this.#o.approveOwn) {
      try {
        await api.replaceCertificateSigningRequestApproval({
          name,
          body: {
            ...created,
            status: {
              conditions: [
                {
                  type: 'Approved',
                  status: 'True',
                  reason: 'AutoApproved',
                  message: 'approved by eci-virtual-node (--approve-own-serving-csr)',
                  lastUpdateTime: new Date(clock.now()),
                },
              ],
            },
          },
        });
        approved = true;
        log.info({ csr: name }, 'kubelet serving CSR approved by ourselves (--approve-own-serving-csr)');
      } catch (err) {
        log.warn(
          { csr: name, err: describeError(err) },
          'cannot approve our own serving CSR (is the RBAC of deploy/optional/approve-own-serving-csr.yaml applied?)',
        );
      }
    }
    if (!approved) {
      const hint = `kubectl certificate approve ${name}`;
      log.warn(
        { csr: name, signer: KUBELET_SERVING_SIGNER, approve: hint },
        `kubelet serving certificate requested; waiting for approval: ${hint}`,
      );
      this.#o.event(
        { kind: 'Node', namespace: 'default', name: nodeName },
        'Normal',
        'ServingCertificateRequested',
        `kubelet API serving certificate requested as CSR ${name} (signer ${KUBELET_SERVING_SIGNER}); until it is approved kubectl logs/exec fail. Approve it with: ${hint}`,
      );
    }
    const issued = await this.#waitForCertificate(name, signal);
    if (issued.kind !== 'issued') {
      log.warn({ csr: name, why: issued.why }, 'kubelet serving CSR not issued; retrying later');
      this.#o.event(
        { kind: 'Node', namespace: 'default', name: nodeName },
        'Warning',
        'ServingCertificateNotIssued',
        `CSR ${name}: ${issued.why}`,
      );
      return false;
    }
    const pair = {
      certPem: issued.certPem,
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const why = unusable(pair, this.#o.ips, clock.now());
    if (why) {
      log.warn({ csr: name, why }, 'the issued kubelet serving certificate is not usable');
      return false;
    }
    this.#set(pair, 'csr');
    await this.#keep(pair);
    log.info(
      { csr: name, renewAt: new Date(renewAt(pair.certPem)).toISOString() },
      'kubelet API now serves the certificate the cluster issued',
    );
    return true;
  }

  async #waitForCertificate(
    name: string,
    signal: AbortSignal,
  ): Promise<{ kind: 'issued'; certPem: string } | { kind: 'refused'; why: string }> {
    const api = this.#o.kube.api(CertificatesV1Api);
    const done = new AbortController();
    const stop = () => done.abort();
    signal.addEventListener('abort', stop, { once: true });
    let outcome: { kind: 'issued'; certPem: string } | { kind: 'refused'; why: string } = {
      kind: 'refused',
      why: 'stopped while waiting',
    };
    const look = (csr: V1CertificateSigningRequest | undefined) => {
      if (!csr) {
        outcome = { kind: 'refused', why: 'the CSR was deleted before it was issued' };
        return done.abort();
      }
      const cond = csr.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
      if (cond) {
        outcome = { kind: 'refused', why: `${cond.type}: ${cond.reason ?? ''} ${cond.message ?? ''}`.trim() };
        return done.abort();
      }
      if (csr.status?.certificate) {
        outcome = { kind: 'issued', certPem: Buffer.from(csr.status.certificate, 'base64').toString('utf8') };
        done.abort();
      }
    };
    try {
      await runWatchLoop<V1CertificateSigningRequest>(
        {
          kube: this.#o.kube,
          path: '/apis/certificates.k8s.io/v1/certificatesigningrequests',
          fieldSelector: `metadata.name=${name}`,
          clock: this.#o.clock,
          log: this.#o.log,
          list: async () => {
            const l = await api.listCertificateSigningRequest({ fieldSelector: `metadata.name=${name}` });
            return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
          },
          onSync: (items) => {
            if (items.length === 0) look(undefined);
          },
          onEvent: (type, csr) => look(type === 'DELETED' ? undefined : csr),
        },
        done.signal,
      );
    } finally {
      signal.removeEventListener('abort', stop);
    }
    return outcome;
  }
}
