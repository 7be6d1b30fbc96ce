// The HTTPS admission endpoint. Thin on purpose: parse → decide (pure) → respond. Everything that
// can go wrong on the way admits the pod unchanged, because blocking pod creation is worse than not
// routing a pod to ECI.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Backoff, fullJitter } from '../util/backoff.ts';
import type { Clock } from '../util/clock.ts';
import { ErrorCodes, ProductError, describeError, hasCode } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { admissionResponse, podOf, type AdmissionRequest } from './admission.ts';
import { ReviewParser } from './review-parser.ts';
import {
  certificateInfo,
  DEFAULT_RENEW_BEFORE_MS,
  DEFAULT_VALIDITY_MS,
  issueServingCertificate,
  MemoryCertStore,
  unusableReason,
  type CertificateInfo,
  type CertStore,
  type TlsMaterial,
} from './certs.ts';
import { MUTATE_PATH } from './configuration.ts';
import { decide, type RoutingProfile } from './decide.ts';

/**
 * The API server takes request bodies of at most 3 MiB (and etcd objects of 1.5 MiB), so no review of a
 * pod it would store is larger; anything bigger is refused before it is buffered or parsed.
 */
export const MAX_BODY_BYTES = 3 << 20;
const DAY = 86_400_000;

export interface WebhookOptions {
  /** Port to listen on; 0 picks a free one (see the returned `port`). */
  port: number;
  /** Bind address; default all interfaces. */
  host?: string;
  /** Names the serving certificate covers: the Service DNS names in a cluster, `127.0.0.1` locally. */
  dnsNames: readonly string[];
  ips: readonly string[];
  /**
   * Labels of a namespace, undefined when it does not exist. Must honour `signal` (the request's
   * budget); a failure only disables routing by namespace for that request.
   */
  getNamespaceLabels: (name: string, signal: AbortSignal) => Promise<Record<string, string> | undefined>;
  /** The current eci-profile routing; called once per request, so a reload applies to the next pod. */
  getProfile: () => RoutingProfile;
  /** Where the certificate is kept; default in memory (one process, nothing shared). */
  certStore?: CertStore;
  /**
   * Publishes the CA bundle (e.g. webhookRegistrar → the MutatingWebhookConfiguration's caBundle).
   * Called at start and whenever the certificate changes, always before the new certificate is
   * served, and once per check interval to repair drift. A failure at start fails startWebhook.
   */
  register?: (caBundlePem: string, port: number) => Promise<void>;
  certValidityMs?: number;
  renewBeforeMs?: number;
  /** How often the certificate (and the published bundle) is checked; default daily. */
  checkIntervalMs?: number;
  /** Budget for the namespace lookup inside the API server's 5 s webhook timeout; default 2 s. */
  namespaceLookupTimeoutMs?: number;
  /** Told of every decision made (for metrics, and for tests that must know the webhook ran). */
  onReview?: (r: ReviewRecord) => void;
  clock: Clock;
  log: Logger;
}

/** One admission decision, as `onReview` reports it. */
export interface ReviewRecord {
  uid: string;
  namespace: string | undefined;
  /** The pod's name, or its generateName followed by `*`. */
  pod: string;
  routed: boolean;
  reason: string;
}

export interface WebhookServer {
  readonly port: number;
  /** The CA bundle the API server must trust (PEM). */
  caBundle(): string;
  /** The certificate being served. */
  certificate(): CertificateInfo;
  /** Runs the periodic check now: adopts, re-issues and publishes as needed. */
  checkCertificate(): Promise<'unchanged' | 'rotated'>;
  /** Stops listening, drops open connections and ends the check loop. */
  close(): Promise<void>;
}

/** Obtains a certificate, starts serving /mutate over HTTPS, publishes the CA bundle. */
export async function startWebhook(opts: WebhookOptions): Promise<WebhookServer> {
  const w = new Webhook(opts);
  await w.start();
  return w;
}

class Webhook implements WebhookServer {
  readonly #o: WebhookOptions;
  readonly #store: CertStore;
  readonly #stop = new AbortController();
  readonly #parser = new ReviewParser();
  #server: Server | undefined;
  #current: TlsMaterial | undefined;
  #checking: Promise<'unchanged' | 'rotated'> | undefined;
  #loop: Promise<void> | undefined;

  constructor(o: WebhookOptions) {
    this.#o = o;
    this.#store = o.certStore ?? new MemoryCertStore();
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  caBundle(): string {
    return this.#material().caBundlePem;
  }

  certificate(): CertificateInfo {
    return certificateInfo(this.#material().certPem);
  }

  async start(): Promise<void> {
    const material = await this.#obtain();
    this.#current = material;
    const server = createServer(
      { key: material.keyPem, cert: material.certPem, minVersion: 'TLSv1.2' },
      (req, res) =>
        void this.#handle(req, res).catch((err: unknown) => {
          this.#o.log.error({ err: describeError(err) }, 'admission request handling failed');
          res.destroy();
        }),
    );
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ProductError(
        code === 'EADDRINUSE' ? ErrorCodes.PORT_IN_USE : ErrorCodes.START_FAILED,
        `webhook cannot listen on ${this.#o.host ?? '0.0.0.0'}:${this.#o.port}: ${describeError(err)}`,
        { cause: err },
      );
    });
    server.on('error', (err) => this.#o.log.error({ err: describeError(err) }, 'webhook server error'));
    try {
      await this.#o.register?.(material.caBundlePem, this.port);
    } catch (err) {
      await this.close();
      throw err;
    }
    const info = certificateInfo(material.certPem);
    this.#o.log.info(
      { port: this.port, store: this.#store.description, serial: info.serialNumber, notAfter: info.notAfter },
      'admission webhook serving',
    );
    this.#loop = this.#checkLoop(this.#stop.signal);
  }

  checkCertificate(): Promise<'unchanged' | 'rotated'> {
    // One check at a time: the timer and a caller must not issue two certificates.
    this.#checking ??= this.#reconcile().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  async close(): Promise<void> {
    this.#stop.abort();
    const server = this.#server;
    if (server?.listening) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    }
    await this.#loop;
    await this.#checking?.catch(() => undefined);
    await this.#parser.close();
  }

  #material(): TlsMaterial {
    if (!this.#current) throw new ProductError(ErrorCodes.NOT_RUNNING, 'webhook has not started');
    return this.#current;
  }

  async #checkLoop(signal: AbortSignal): Promise<void> {
    const interval = this.#o.checkIntervalMs ?? DAY;
    const backoff = new Backoff({ baseMs: Math.min(60_000, interval), maxMs: interval });
    let delay = interval;
    while (!signal.aborted) {
      try {
        await this.#o.clock.sleep(delay, signal);
      } catch {
        return;
      }
      try {
        await this.checkCertificate();
        backoff.reset();
        delay = interval;
      } catch (err) {
        delay = fullJitter(backoff.next());
        this.#o.log.warn({ err: describeError(err), retryInMs: delay }, 'webhook certificate check failed');
      }
    }
  }

  /** Stored and usable, else a new one issued and stored; a concurrent writer's certificate wins. */
  async #obtain(): Promise<TlsMaterial> {
    const { dnsNames, ips, clock, log } = this.#o;
    const usable = {
      dnsNames,
      ips,
      now: clock.now(),
      renewBeforeMs: this.#o.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS,
    };
    const stored = await this.#store.load();
    const why = stored ? unusableReason(stored.material, usable) : 'none stored yet';
    if (stored && !why) return stored.material;
    log.info({ store: this.#store.description, reason: why }, 'issuing a new webhook certificate');
    const fresh = await issueServingCertificate({
      dnsNames,
      ips,
      now: clock.now(),
      validityMs: this.#o.certValidityMs ?? DEFAULT_VALIDITY_MS,
      previous: stored?.material ?? this.#current,
    });
    if (await this.#store.save(fresh, stored?.version)) return fresh;
    const winner = await this.#store.load();
    if (winner && !unusableReason(winner.material, usable)) return winner.material;
    throw new ProductError(
      ErrorCodes.KUBE_API,
      `${this.#store.description} changed while a certificate was being stored and holds no usable one`,
    );
  }

  async #reconcile(): Promise<'unchanged' | 'rotated'> {
    const material = await this.#obtain();
    // Trusted first, served second: the API server must never see a certificate it cannot verify.
    await this.#o.register?.(material.caBundlePem, this.port);
    if (material.certPem === this.#current?.certPem) return 'unchanged';
    this.#server?.setSecureContext({ key: material.keyPem, cert: material.certPem, minVersion: 'TLSv1.2' });
    this.#current = material;
    const info = certificateInfo(material.certPem);
    this.#o.log.info(
      { serial: info.serialNumber, notAfter: info.notAfter },
      'serving a new webhook certificate',
    );
    return 'rotated';
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return send(res, 200, 'ok', 'text/plain');
    if (path !== MUTATE_PATH) return send(res, 404, 'not found', 'text/plain');
    if (req.method !== 'POST') return send(res, 405, 'POST an AdmissionReview', 'text/plain');
    let request: AdmissionRequest;
    try {
      request = await this.#parser.parse(await readBody(req, MAX_BODY_BYTES));
    } catch (err) {
      // 429 and 413 make the API server apply the failure policy (Ignore): the pod is admitted unrouted.
      const status = err instanceof BodyTooLarge ? 413 : hasCode(err, ErrorCodes.BUSY) ? 429 : 400;
      this.#o.log.warn({ status, err: describeError(err) }, 'rejected an admission request');
      return send(res, status, describeError(err), 'text/plain');
    }
    let body;
    try {
      body = await this.#review(request);
    } catch (err) {
      // Fail open: an unexpected bug must not stop pods from being created.
      this.#o.log.error(
        { uid: request.uid, err: describeError(err) },
        'admission failed; pod admitted unchanged',
      );
      body = admissionResponse(request.uid);
    }
    send(res, 200, JSON.stringify(body), 'application/json');
  }

  async #review(request: AdmissionRequest) {
    const pod = podOf(request);
    if (!pod) return admissionResponse(request.uid);
    const namespace = pod.metadata?.namespace;
    let namespaceLabels: Record<string, string> | undefined;
    if (namespace) {
      try {
        const budget = AbortSignal.timeout(this.#o.namespaceLookupTimeoutMs ?? 2_000);
        namespaceLabels = await this.#o.getNamespaceLabels(namespace, budget);
      } catch (err) {
        this.#o.log.warn(
          { namespace, err: describeError(err) },
          'namespace labels unavailable; routing by pod labels only',
        );
      }
    }
    const decision = decide(pod, namespaceLabels, this.#o.getProfile());
    const fields = {
      uid: request.uid,
      namespace,
      pod: pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`,
      reason: decision.reason,
      dryRun: request.dryRun || undefined,
    };
    this.#o.onReview?.({ ...fields, routed: decision.routed });
    if (decision.routed) this.#o.log.info(fields, 'pod routed to the virtual node');
    else this.#o.log.debug(fields, 'pod not routed');
    return admissionResponse(request.uid, decision.patch);
  }
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge(`request body of ${declared} bytes is larger than ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Stop buffering; the 413 goes out with `connection: close`, which ends the upload.
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`request body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  res.end(body);
}
