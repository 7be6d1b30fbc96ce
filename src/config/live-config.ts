import type { CoreV1Api, V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { isNotFound, type KubeClients } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import { runWatchLoop } from '../kube/watch.ts';
import type { Clock } from '../util/clock.ts';
import { describeError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { parseProfile, PROFILE_NAME, PROFILE_NAMESPACE, ProfileError, type Profile } from './profile.ts';

export const CREDENTIALS_SECRET = 'alibaba-addon-secret';
export const CREDENTIALS_NAMESPACE = 'kube-system';

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
}

export interface LiveConfigOptions<S> {
  kube: KubeClients;
  events: Pick<EventRecorder, 'record'>;
  clock: Clock;
  log: Logger;
  parseSelectors: (json: string) => S[];
  /** Credentials from the environment win over the secret, which is then not watched. */
  envCredentials?: Credentials;
  /** Where the profile lives; default kube-system/eci-profile. */
  profileRef?: { namespace: string; name: string };
}

/**
 * The configuration that can change while the controller runs: the `eci-profile` ConfigMap and the
 * `alibaba-addon-secret` credentials, both in kube-system, watched and applied without a restart.
 * An invalid profile is refused with a Warning Event naming the key, and the last good one stays.
 * Readers call `profile()` / `credentials()` when they need a value, so a change reaches new work
 * only (a pod already created keeps what it was created with).
 */
export class LiveConfig<S> {
  readonly #o: LiveConfigOptions<S>;
  #profile: Profile<S> = { selectors: [] };
  #credentials: Credentials | undefined;
  #credentialListeners: ((c: Credentials | undefined) => void)[] = [];
  #lastRejected: string | undefined;
  readonly #ref: { namespace: string; name: string };

  constructor(o: LiveConfigOptions<S>) {
    this.#o = o;
    this.#ref = o.profileRef ?? { namespace: PROFILE_NAMESPACE, name: PROFILE_NAME };
    this.#credentials = o.envCredentials;
  }

  profile(): Profile<S> {
    return this.#profile;
  }

  credentials(): Credentials | undefined {
    return this.#credentials;
  }

  onCredentialsChange(cb: (c: Credentials | undefined) => void): void {
    this.#credentialListeners.push(cb);
  }

  /** Reads both objects once, so start-up decisions see them. Absent objects are fine. */
  async load(): Promise<void> {
    const { core } = this.#o.kube;
    const cm = await core.readNamespacedConfigMap(this.#ref).catch(absent);
    this.#applyProfile(cm);
    if (!this.#o.envCredentials) {
      this.#applySecret(await readCredentialsSecret(core));
    }
  }

  /** Watches both objects until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { core } = this.#o.kube;
    const watchOne = <T extends { metadata?: { resourceVersion?: string } }>(
      path: string,
      name: string,
      list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
      apply: (obj: T | undefined) => void,
    ) =>
      runWatchLoop<T>(
        {
          kube: this.#o.kube,
          path,
          fieldSelector: `metadata.name=${name}`,
          clock: this.#o.clock,
          log: this.#o.log,
          list: async () => {
            const l = await list();
            return { items: l.items, resourceVersion: l.metadata?.resourceVersion ?? '' };
          },
          onSync: (items) => {
            if (items.length === 0) apply(undefined);
          },
          onEvent: (type, obj) => apply(type === 'DELETED' ? undefined : obj),
        },
        signal,
      );
    const fieldSelector = (name: string) => `metadata.name=${name}`;
    const loops = [
      watchOne<V1ConfigMap>(
        `/api/v1/namespaces/${this.#ref.namespace}/configmaps`,
        this.#ref.name,
        () =>
          core.listNamespacedConfigMap({
            namespace: this.#ref.namespace,
            fieldSelector: fieldSelector(this.#ref.name),
          }),
        (cm) => this.#applyProfile(cm),
      ),
    ];
    if (!this.#o.envCredentials) {
      loops.push(
        watchOne<V1Secret>(
          `/api/v1/namespaces/${CREDENTIALS_NAMESPACE}/secrets`,
          CREDENTIALS_SECRET,
          () =>
            core.listNamespacedSecret({
              namespace: CREDENTIALS_NAMESPACE,
              fieldSelector: fieldSelector(CREDENTIALS_SECRET),
            }),
          (s) => this.#applySecret(s),
        ),
      );
    }
    await Promise.all(loops);
  }

  #applyProfile(cm: V1ConfigMap | undefined): void {
    try {
      const next = parseProfile(cm?.data, this.#o.parseSelectors);
      this.#profile = next;
      this.#lastRejected = undefined;
      this.#o.log.info(
        {
          vSwitchIds: next.vSwitchIds,
          securityGroupId: next.securityGroupId,
          selectors: next.selectors.length,
          enableClusterIp: next.enableClusterIp,
        },
        cm ? 'eci-profile applied (new pods only)' : 'no eci-profile; using the environment',
      );
    } catch (err) {
      const message = `${describeError(err)}; the previous profile stays in force`;
      const version = cm?.metadata?.resourceVersion;
      if (this.#lastRejected === version) return;
      this.#lastRejected = version;
      this.#o.log.warn(
        { key: err instanceof ProfileError ? err.key : undefined, err: describeError(err) },
        'eci-profile rejected',
      );
      void this.#o.events.record(
        { kind: 'ConfigMap', namespace: this.#ref.namespace, name: this.#ref.name, uid: cm?.metadata?.uid },
        'Warning',
        'InvalidProfile',
        message,
      );
    }
  }

  #applySecret(secret: V1Secret | undefined): void {
    const next = credentialsFromSecret(secret);
    if (
      next?.accessKeyId === this.#credentials?.accessKeyId &&
      next?.accessKeySecret === this.#credentials?.accessKeySecret
    )
      return;
    this.#credentials = next;
    this.#o.log.info(
      { secret: `${CREDENTIALS_NAMESPACE}/${CREDENTIALS_SECRET}`, present: next !== undefined },
      'ECI credentials (re)loaded from the secret',
    );
    for (const cb of this.#credentialListeners) cb(next);
  }
}

/** The AccessKey in the secret's `access-key-id` / `access-key-secret` keys, if both are there. */
export function credentialsFromSecret(secret: V1Secret | undefined): Credentials | undefined {
  const decode = (k: string) => {
    const v = secret?.data?.[k];
    return v ? Buffer.from(v, 'base64').toString('utf8').trim() : undefined;
  };
  const id = decode('access-key-id');
  const key = decode('access-key-secret');
  return id && key ? { accessKeyId: id, accessKeySecret: key } : undefined;
}

/** kube-system/alibaba-addon-secret, or undefined when it does not exist. */
export function readCredentialsSecret(core: CoreV1Api): Promise<V1Secret | undefined> {
  return core
    .readNamespacedSecret({ name: CREDENTIALS_SECRET, namespace: CREDENTIALS_NAMESPACE })
    .catch(absent);
}

function absent(err: unknown): undefined {
  if (isNotFound(err)) return undefined;
  throw err;
}
