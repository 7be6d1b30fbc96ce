import type { V1Pod } from '@kubernetes/client-node';
import type { CloudPrivileges } from '../providers/eci/mapping/privileges.ts';
import type { Placement, PodInputs } from '../providers/provider.ts';
import type { ClusterAccess } from './cluster-services.ts';
import type { RefResolver } from './ref-resolver.ts';

export interface PodInputsOptions {
  refs: Pick<RefResolver, 'resolve'>;
  /** Where new instances go now: eci-profile over the environment over the backend's defaults. */
  placement: () => Pick<Placement, 'vSwitchIds' | 'securityGroupId'>;
  /** ClusterIP access for new pods, as configured now (eci-profile enableClusterIp over ECI_KUBE_PROXY). */
  clusterIpAccess: () => boolean;
  /** The cluster DNS and the API server's Service env, when access is on. */
  clusterAccess: (enabled: boolean) => Promise<ClusterAccess>;
  /** The cloud privileges pods of a namespace may pick by annotation (eci-profile cloudPrivileges). */
  privileges?: (namespace: string) => CloudPrivileges;
}

/**
 * The pod side of the provider boundary: everything a provider needs from Kubernetes and from the
 * live configuration to create one pod's instance, read at that moment, so a configuration change
 * applies to new pods only.
 */
export class PodInputsResolver {
  readonly #o: PodInputsOptions;

  constructor(o: PodInputsOptions) {
    this.#o = o;
  }

  async resolve(pod: V1Pod): Promise<PodInputs> {
    const [refs, access] = await Promise.all([
      this.#o.refs.resolve(pod),
      this.#o.clusterAccess(this.#o.clusterIpAccess()),
    ]);
    const privileges = this.#o.privileges?.(pod.metadata?.namespace ?? 'default');
    return { refs, placement: { ...this.#o.placement(), ...access, ...(privileges ? { privileges } : {}) } };
  }
}
