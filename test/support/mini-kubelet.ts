// A stand-in kubelet for installing the product's own manifests into the test control plane, which has
// no real nodes: it registers a Node, heartbeats it, and runs each pod bound to it as a process in the
// controller image's unpacked root filesystem (chroot, as the pod's user, with the pod's environment
// and a ServiceAccount token where in-cluster clients look for it). Enough of a kubelet for the
// Deployment and the uninstall Job of the chart: one container a pod, httpGet readiness, graceful
// deletion, exit codes to Succeeded/Failed. Host network: the pod IP is 127.0.0.1.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1EnvVar,
  type V1Pod,
} from '@kubernetes/client-node';
import { startInRootfs, type RootfsProcess } from './image.ts';

const run = promisify(execFile);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Running {
  proc?: RootfsProcess;
  ready: boolean;
  done: boolean;
  dir: string;
}

export class MiniKubelet {
  readonly nodeName: string;
  readonly #core: CoreV1Api;
  readonly #coord: CoordinationV1Api;
  readonly #kc: KubeConfig;
  readonly #rootfs: string;
  readonly #workDir: string;
  readonly #imageEnv: Record<string, string>;
  readonly #pods = new Map<string, Running>();
  #timer?: NodeJS.Timeout;
  #busy = false;
  #lastBeat = 0;
  /** Output of every pod's process, by namespace/name, for failure messages. */
  readonly logs = new Map<string, () => string>();

  constructor(o: {
    kubeconfig: string;
    nodeName: string;
    rootfs: string;
    workDir: string;
    imageEnv: Record<string, string>;
  }) {
    this.#kc = new KubeConfig();
    this.#kc.loadFromFile(o.kubeconfig);
    this.#core = this.#kc.makeApiClient(CoreV1Api);
    this.#coord = this.#kc.makeApiClient(CoordinationV1Api);
    this.nodeName = o.nodeName;
    this.#rootfs = o.rootfs;
    this.#workDir = o.workDir;
    this.#imageEnv = o.imageEnv;
  }

  async start(): Promise<void> {
    await this.#core.createNode({
      body: {
        metadata: {
          name: this.nodeName,
          labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': this.nodeName },
        },
      },
    });
    await this.#heartbeat();
    this.#timer = setInterval(() => void this.#tick(), 1000);
  }

  async #heartbeat(): Promise<void> {
    const now = new Date();
    await this.#core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            capacity: { cpu: '8', memory: '32Gi', pods: '110' },
            allocatable: { cpu: '8', memory: '32Gi', pods: '110' },
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'test kubelet',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
            nodeInfo: { kubeletVersion: 'v1.34.4', architecture: 'amd64', operatingSystem: 'linux' } as never,
          },
        },
      },
      mergePatch,
    );
    const lease = {
      metadata: { name: this.nodeName, namespace: 'kube-node-lease' },
      spec: { holderIdentity: this.nodeName, leaseDurationSeconds: 40, renewTime: now as never },
    };
    try {
      const cur = await this.#coord.readNamespacedLease({
        name: this.nodeName,
        namespace: 'kube-node-lease',
      });
      await this.#coord.replaceNamespacedLease({
        name: this.nodeName,
        namespace: 'kube-node-lease',
        body: { ...cur, spec: lease.spec },
      });
    } catch {
      await this.#coord
        .createNamespacedLease({ namespace: 'kube-node-lease', body: lease })
        .catch(() => undefined);
    }
    this.#lastBeat = Date.now();
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      if (Date.now() - this.#lastBeat > 10_000) await this.#heartbeat();
      const pods = (
        await this.#core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.nodeName}` })
      ).items;
      for (const pod of pods) await this.#sync(pod);
    } catch (err) {
      // The next tick tries again; said, so a stuck test shows why.
      process.stderr.write(`[mini-kubelet] ${err instanceof Error ? err.message : String(err)}\n`);
    } finally {
      this.#busy = false;
    }
  }

  async #sync(pod: V1Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    let r = this.#pods.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      if (r?.proc) await r.proc.stop('SIGTERM');
      // The grace period goes in the body too: with a body, the API server ignores the query's.
      await this.#core
        .deleteNamespacedPod({
          name,
          namespace: ns,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        })
        .catch((err: unknown) =>
          process.stderr.write(`[mini-kubelet] delete ${ns}/${name}: ${String(err).slice(0, 300)}\n`),
        );
      if (r) await rm(r.dir, { recursive: true, force: true });
      this.#pods.delete(uid);
      return;
    }
    if (!r) {
      r = { ready: false, done: false, dir: path.join(this.#workDir, uid) };
      this.#pods.set(uid, r);
      await this.#launch(pod, r);
      return;
    }
    if (r.done || !r.proc) return;
    const c = pod.spec!.containers[0]!;
    const probe = c.readinessProbe?.httpGet;
    if (probe && !r.ready) {
      const port =
        typeof probe.port === 'number'
          ? probe.port
          : c.ports?.find((p) => p.name === probe.port)?.containerPort;
      const ok = await fetch(`http://127.0.0.1:${port}${probe.path ?? '/'}`, {
        signal: AbortSignal.timeout(2000),
      }).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) {
        r.ready = true;
        await this.#status(pod, 'Running', { ready: true });
      }
    }
  }

  async #launch(pod: V1Pod, r: Running): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const c = pod.spec!.containers[0]!;
    // A root filesystem of the pod's own (hard links: instant and small), for its token files.
    await mkdir(r.dir, { recursive: true });
    const root = path.join(r.dir, 'rootfs');
    await run('cp', ['-al', this.#rootfs, root]);
    const sa = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    const token = await this.#core.createNamespacedServiceAccountToken({
      name: pod.spec!.serviceAccountName ?? 'default',
      namespace: ns,
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 3600,
          boundObjectRef: {
            kind: 'Pod',
            apiVersion: 'v1',
            name: pod.metadata!.name!,
            uid: pod.metadata!.uid!,
          },
        },
      },
    });
    const cluster = this.#kc.getCurrentCluster()!;
    const server = new URL(cluster.server);
    await writeFile(path.join(sa, 'token'), token.status?.token ?? '');
    await writeFile(path.join(sa, 'namespace'), ns);
    await writeFile(
      path.join(sa, 'ca.crt'),
      cluster.caFile ? await readFile(cluster.caFile) : Buffer.from(cluster.caData ?? '', 'base64'),
    );
    const env: Record<string, string> = {
      ...this.#imageEnv,
      HOSTNAME: pod.metadata!.name!,
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port || '443',
    };
    for (const e of c.env ?? []) {
      const v = await this.#envValue(ns, e);
      if (v !== undefined) env[e.name] = v;
    }
    const sc = pod.spec!.securityContext;
    const user = `${c.securityContext?.runAsUser ?? sc?.runAsUser ?? 0}:${c.securityContext?.runAsGroup ?? sc?.runAsGroup ?? 0}`;
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    const proc = startInRootfs(root, argv, { env, user });
    r.proc = proc;
    this.logs.set(`${ns}/${pod.metadata!.name}`, () => proc.output);
    await this.#status(pod, 'Running', { ready: !c.readinessProbe });
    r.ready = !c.readinessProbe;
    void proc.exited.then(async (code) => {
      r.done = true;
      await this.#status(pod, code === 0 ? 'Succeeded' : 'Failed', {
        ready: false,
        exitCode: code ?? 137,
      }).catch(() => undefined);
    });
  }

  async #envValue(ns: string, e: V1EnvVar): Promise<string | undefined> {
    if (e.value !== undefined) return e.value;
    const f = e.valueFrom;
    if (f?.fieldRef) {
      const p = f.fieldRef.fieldPath;
      return p === 'status.podIP' || p === 'status.hostIP'
        ? '127.0.0.1'
        : p === 'spec.nodeName'
          ? this.nodeName
          : undefined;
    }
    if (f?.secretKeyRef) {
      try {
        const s = await this.#core.readNamespacedSecret({ name: f.secretKeyRef.name!, namespace: ns });
        const v = s.data?.[f.secretKeyRef.key];
        return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
      } catch (err) {
        if (f.secretKeyRef.optional) return undefined;
        throw err;
      }
    }
    return undefined;
  }

  async #status(pod: V1Pod, phase: string, o: { ready: boolean; exitCode?: number }): Promise<void> {
    const now = new Date();
    const c = pod.spec!.containers[0]!;
    const terminated = phase === 'Succeeded' || phase === 'Failed';
    await this.#core.patchNamespacedPodStatus(
      {
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          status: {
            phase,
            podIP: '127.0.0.1',
            podIPs: [{ ip: '127.0.0.1' }],
            hostIP: '127.0.0.1',
            startTime: now,
            conditions: [
              { type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: now },
              { type: 'ContainersReady', status: o.ready ? 'True' : 'False', lastTransitionTime: now },
              { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
            ],
            containerStatuses: [
              {
                name: c.name,
                image: c.image!,
                imageID: c.image!,
                containerID: `mini://${pod.metadata!.uid}`,
                ready: o.ready,
                started: !terminated,
                restartCount: 0,
                state: terminated
                  ? {
                      terminated: {
                        exitCode: o.exitCode ?? 0,
                        reason: phase === 'Succeeded' ? 'Completed' : 'Error',
                        finishedAt: now,
                      },
                    }
                  : { running: { startedAt: now } },
              },
            ],
          } as never,
        },
      },
      mergePatch,
    );
  }

  /** Stops every process it started and removes the Node, its Lease and the pods' files. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const r of this.#pods.values()) await r.proc?.stop('SIGKILL');
    await this.#core.deleteNode({ name: this.nodeName }).catch(() => undefined);
    await this.#coord
      .deleteNamespacedLease({ name: this.nodeName, namespace: 'kube-node-lease' })
      .catch(() => undefined);
    await rm(this.#workDir, { recursive: true, force: true });
  }
}
