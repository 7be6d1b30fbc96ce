import { ECI_ANNOTATIONS, type EciOptions } from './annotations.ts';
import { refusal, RefusalReasons, type Refusal } from './types.ts';

/**
 * What pods of one namespace may ask ECI for by annotation beyond the controller's own placement: the
 * cloud-side privileges a pod's author could otherwise pick freely — a RAM role (cloud credentials
 * inside the pod), a security group or vSwitch (network reach), an EIP (a public address). A list
 * entry `*` allows any value. The controller's own vSwitches and security group are always allowed:
 * naming them grants nothing new.
 */
export interface CloudPrivileges {
  readonly ramRoles: readonly string[];
  readonly securityGroups: readonly string[];
  readonly vSwitches: readonly string[];
  /** EIP instance IDs a pod may bind (k8s.aliyun.com/eci-eip-instanceid). */
  readonly eips: readonly string[];
  /** Whether pods may have a new EIP created for them (k8s.aliyun.com/eci-with-eip). */
  readonly createEip: boolean;
}

/** Nothing beyond the controller's placement: what a namespace gets unless the profile lists it. */
export const NO_CLOUD_PRIVILEGES: CloudPrivileges = {
  ramRoles: [],
  securityGroups: [],
  vSwitches: [],
  eips: [],
  createEip: false,
};

const allows = (list: readonly string[], value: string) => list.includes('*') || list.includes(value);

/**
 * The first annotation asking for a cloud privilege the namespace was not given, as a refusal naming
 * it; null when every one is allowed.
 */
export function cloudPrivilegeRefusal(
  o: EciOptions,
  namespace: string,
  allowed: CloudPrivileges,
  placement: { readonly vSwitchIds: readonly string[]; readonly securityGroupId: string },
): Refusal | null {
  const refuse = (key: string, value: string, what: string) =>
    refusal(
      `metadata.annotations['${key}']`,
      RefusalReasons.CLOUD_PRIVILEGE,
      `${key}=${value} is not allowed in namespace ${namespace}: the eci-profile cloudPrivileges allow-list ` +
        `gives it no such ${what} (an administrator adds it with kubectl -n kube-system edit configmap eci-profile)`,
    );
  if (o.ramRoleName !== undefined && !allows(allowed.ramRoles, o.ramRoleName)) {
    return refuse(ECI_ANNOTATIONS.RAM_ROLE_NAME, o.ramRoleName, 'RAM role');
  }
  if (
    o.securityGroupId !== undefined &&
    o.securityGroupId !== placement.securityGroupId &&
    !allows(allowed.securityGroups, o.securityGroupId)
  ) {
    return refuse(ECI_ANNOTATIONS.SECURITY_GROUP, o.securityGroupId, 'security group');
  }
  for (const v of o.vSwitchIds ?? []) {
    if (!placement.vSwitchIds.includes(v) && !allows(allowed.vSwitches, v)) {
      return refuse(ECI_ANNOTATIONS.VSWITCH, v, 'vSwitch');
    }
  }
  if (o.eipInstanceId !== undefined && !allows(allowed.eips, o.eipInstanceId)) {
    return refuse(ECI_ANNOTATIONS.EIP_INSTANCE_ID, o.eipInstanceId, 'EIP');
  }
  if (o.autoCreateEip === true && !allowed.createEip) {
    return refuse(ECI_ANNOTATIONS.WITH_EIP, 'true', 'permission to create an EIP');
  }
  return null;
}
