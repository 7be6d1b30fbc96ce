import { execFile } from 'node:child_process';

/** `kubectl apply -f -` of one object, with the real kubectl. */
export function kubectlApply(kubeconfig: string, obj: unknown): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const p = execFile(
      process.env.KUBECTL ?? 'kubectl',
      ['--kubeconfig', kubeconfig, 'apply', '-f', '-'],
      (err, _o, stderr) => (err ? reject(new Error(`kubectl apply failed: ${stderr}`)) : resolve()),
    );
    p.stdin?.end(JSON.stringify(obj));
  });
}

/** The labels and tolerations that send a pod to one virtual node without the webhook. */
export function placementOn(node: string) {
  return {
    nodeSelector: { 'kubernetes.io/hostname': node },
    tolerations: [{ key: 'virtual-kubelet.io/provider', operator: 'Exists', effect: 'NoSchedule' }],
  };
}
