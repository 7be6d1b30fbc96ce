import type { V1Pod } from '@kubernetes/client-node';
import { waitFor } from './wait.ts';

type Json = <T>(...args: string[]) => Promise<T>;

/** Waits until the pod (as `kubectl get -o json` shows it) satisfies `ok`, and returns it. */
export function waitPod(
  json: Json,
  namespace: string,
  name: string,
  what: string,
  ok: (p: V1Pod) => boolean,
  timeoutMs = 120_000,
): Promise<V1Pod> {
  return waitFor(
    `${namespace}/${name} ${what}`,
    async () => {
      const p = await json<V1Pod>('-n', namespace, 'get', 'pod', name);
      return ok(p) && p;
    },
    { timeoutMs },
  );
}

export const waitRunning = (
  json: Json,
  namespace: string,
  name: string,
  timeoutMs?: number,
): Promise<V1Pod> =>
  waitPod(json, namespace, name, 'Running', (p) => p.status?.phase === 'Running', timeoutMs);

/** Waits until the pod's status carries `reason` (a refusal, a deadline, a stock-out ...). */
export const waitReason = (json: Json, namespace: string, name: string, reason: string, timeoutMs = 60_000) =>
  waitPod(json, namespace, name, `status reason ${reason}`, (p) => p.status?.reason === reason, timeoutMs);

/** The ECI container group a pod runs in, from its containerID (eci://<group>/<container>). */
export function groupIdOf(pod: V1Pod): string {
  const id = /^eci:\/\/([^/]+)\//.exec(pod.status?.containerStatuses?.[0]?.containerID ?? '')?.[1];
  if (!id) throw new Error(`pod ${pod.metadata?.name} names no container group in its containerID`);
  return id;
}
