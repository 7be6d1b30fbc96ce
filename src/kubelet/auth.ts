import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../util/clock.ts';

/** Who is calling, as Kubernetes authenticators describe a user. */
export interface UserInfo {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** The SubjectAccessReview a kubelet makes for a request: `verb` on `nodes/<subresource>` of one node. */
export interface NodeAccess {
  readonly verb: string;
  readonly subresource: string;
}

export interface AuthBackend {
  /** TokenReview: the user a bearer token belongs to, or undefined when the token is not valid. */
  reviewToken(token: string): Promise<UserInfo | undefined>;
  /** SubjectAccessReview: whether `user` may `access` this node. */
  review(user: UserInfo, access: NodeAccess): Promise<boolean>;
}

export type AuthResult =
  | { ok: true; user: UserInfo; access: NodeAccess }
  /** 401: nobody we know; 403: known but not allowed; 500: we could not ask the API server. */
  | { ok: false; status: 401 | 403 | 500; message: string };

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/**
 * What a kubelet in webhook mode decides for each request: the caller is authenticated by a client
 * certificate verified against the cluster's client CA (by the TLS layer), else by a bearer token
 * through TokenReview; anonymous callers are refused (401). The request is then authorised by
 * SubjectAccessReview on `nodes/<subresource>` of this node (403 when denied). Both answers are
 * cached briefly, as kubelet's webhook authenticator and authorizer do.
 */
export class KubeletAuth {
  readonly #backend: AuthBackend;
  readonly #tokens: TtlCache<UserInfo | null>;
  readonly #decisions: TtlCache<boolean>;

  constructor(o: {
    backend: AuthBackend;
    clock: Clock;
    /** Cache lifetimes; kubelet's defaults are 2 min (tokens), 5 min allowed / 30 s denied. */
    tokenTtlMs?: number;
    allowedTtlMs?: number;
    deniedTtlMs?: number;
  }) {
    this.#backend = o.backend;
    this.#tokens = new TtlCache(o.clock, o.tokenTtlMs ?? 120_000, 10_000);
    this.#decisions = new TtlCache(o.clock, o.allowedTtlMs ?? 300_000, 10_000, o.deniedTtlMs ?? 30_000);
  }

  async check(req: IncomingMessage): Promise<AuthResult> {
    let user: UserInfo | undefined;
    try {
      user = clientCertificateUser(req) ?? (await this.#tokenUser(req));
    } catch {
      return { ok: false, status: 401, message: 'Unauthorized' };
    }
    if (!user) return { ok: false, status: 401, message: 'Unauthorized' };
    const path = new URL(req.url ?? '/', 'https://kubelet').pathname;
    const verb = verbFor(req.method ?? 'GET');
    const subresources = subresourcesFor(path);
    for (const subresource of subresources) {
      const access = { verb, subresource };
      let allowed: boolean;
      try {
        allowed = await this.#allowed(user, access);
      } catch {
        return {
          ok: false,
          status: 500,
          message: `Authorization error (user=${user.name}, verb=${verb}, resource=nodes, subresource=${subresource})`,
        };
      }
      if (allowed) return { ok: true, user, access };
    }
    return {
      ok: false,
      status: 403,
      message: `Forbidden (user=${user.name}, verb=${verb}, resource=nodes, subresource(s)=[${subresources.join(' ')}])\n`,
    };
  }

  async #tokenUser(req: IncomingMessage): Promise<UserInfo | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const token = m[1]!;
    const key = createHash('sha256').update(token).digest('base64');
    const hit = this.#tokens.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const user = await this.#backend.reviewToken(token);
    this.#tokens.set(key, user ?? null, user !== undefined);
    return user;
  }

  async #allowed(user: UserInfo, access: NodeAccess): Promise<boolean> {
    const key = JSON.stringify([
      user.name,
      user.uid,
      user.groups,
      user.extra,
      access.verb,
      access.subresource,
    ]);
    const hit = this.#decisions.get(key);
    if (hit !== undefined) return hit;
    const allowed = await this.#backend.review(user, access);
    this.#decisions.set(key, allowed, allowed);
    return allowed;
  }

  /** For tests and metrics: how many answers are cached. */
  get cached(): number {
    return this.#tokens.size + this.#decisions.size;
  }
}

/**
 * The user of a client certificate the TLS layer verified against the client CA: CN is the name, each
 * O a group. A certificate restricted to other uses than client authentication does not count.
 */
export function clientCertificateUser(req: IncomingMessage): UserInfo | undefined {
  const sock = req.socket as TLSSocket;
  if (typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return undefined;
  const peer = sock.getPeerCertificate();
  if (!peer || !peer.subject) return undefined;
  const eku = (peer as { ext_key_usage?: string[] }).ext_key_usage;
  if (eku && !eku.includes(CLIENT_AUTH_OID)) return undefined;
  const cn = peer.subject.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) return undefined;
  const o = peer.subject.O;
  return { name, groups: [...(o === undefined ? [] : Array.isArray(o) ? o : [o]), 'system:authenticated'] };
}

/** kubelet's verb for an HTTP method. */
export function verbFor(method: string): string {
  switch (method.toUpperCase()) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'get';
  }
}

const isSubpath = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/**
 * The `nodes` subresources a request is authorised against, in order (the first allowed wins), as
 * kubelet 1.34 does with fine-grained authorization: /pods and /healthz have their own and fall back
 * to `proxy`; /stats → stats, /metrics → metrics, /logs → log; everything else (exec, attach,
 * portForward, containerLogs) → proxy.
 */
export function subresourcesFor(path: string): string[] {
  const first: string[] = [];
  if (isSubpath(path, '/pods') || isSubpath(path, '/runningpods')) first.push('pods');
  else if (isSubpath(path, '/healthz')) first.push('healthz');
  else if (isSubpath(path, '/configz')) first.push('configz');
  if (isSubpath(path, '/stats')) return [...first, 'stats'];
  if (isSubpath(path, '/metrics')) return [...first, 'metrics'];
  if (isSubpath(path, '/logs')) return [...first, 'log'];
  return [...first, 'proxy'];
}

/** A small map whose entries expire; `set` may choose the short lifetime (negative answers). */
class TtlCache<V> {
  readonly #clock: Clock;
  readonly #ttl: number;
  readonly #shortTtl: number;
  readonly #max: number;
  readonly #m = new Map<string, { v: V; until: number }>();

  constructor(clock: Clock, ttlMs: number, max: number, shortTtlMs = Math.min(ttlMs, 10_000)) {
    this.#clock = clock;
    this.#ttl = ttlMs;
    this.#shortTtl = shortTtlMs;
    this.#max = max;
  }

  get size(): number {
    return this.#m.size;
  }

  get(k: string): V | undefined {
    const e = this.#m.get(k);
    if (!e) return undefined;
    if (e.until <= this.#clock.now()) {
      this.#m.delete(k);
      return undefined;
    }
    return e.v;
  }

  set(k: string, v: V, long: boolean): void {
    const now = this.#clock.now();
    if (this.#m.size >= this.#max) {
      for (const [key, e] of this.#m) if (e.until <= now) this.#m.delete(key);
      // Still full: drop the oldest entries (Map keeps insertion order).
      for (const key of this.#m.keys()) {
        if (this.#m.size < this.#max) break;
        this.#m.delete(key);
      }
    }
    this.#m.set(k, { v, until: now + (long ? this.#ttl : this.#shortTtl) });
  }
}
