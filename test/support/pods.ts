import type { V1Pod } from '@kubernetes/client-node';
import { waitFor } from './wait.ts';

type Json = <T>(...args: string[]) => Promise<T>;

/** Waits until the pod is Running (as `kubectl get -o json` shows it) and returns it. */
export function waitRunning(
  json: Json,
  namespace: string,
  name: string,
  timeoutMs = 120_000,
): Promise<V1Pod> {
  return waitFor(
    `${namespace}/${name} Running`,
    async () => {
      const p = await json<V1Pod>('-n', namespace, 'get', 'pod', name);
      return p.status?.phase === 'Running' && p;
    },
    { timeoutMs },
  );
}

/** The ECI container group a pod runs in, from its containerID (eci://<group>/<container>). */
export function groupIdOf(pod: V1Pod): string {
  const id = /^eci:\/\/([^/]+)\//.exec(pod.status?.containerStatuses?.[0]?.containerID ?? '')?.[1];
  if (!id) throw new Error(`pod ${pod.metadata?.name} names no container group in its containerID`);
  return id;
}
