import type { EciClient } from '../providers/eci/eci-client.ts';
import { EciApiError } from '../providers/eci/eci-errors.ts';
import { describeError } from '../util/errors.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when not ok. */
  fix?: string;
}

/**
 * The actions of the seed's RAM policy, each with a harmless probe: an unknown ID or an impossible
 * vSwitch, so a permitted call fails with NotFound/InvalidParameter and changes nothing, while a
 * missing permission fails with the RAM error. Read-only calls list at most one item.
 */
export const RAM_PROBES: { action: string; query: Record<string, string> }[] = [
  { action: 'DescribeContainerGroups', query: { Limit: '1' } },
  {
    action: 'CreateContainerGroup',
    query: {
      DryRun: 'true',
      ContainerGroupName: 'doctor-probe',
      'Container.1.Name': 'probe',
      'Container.1.Image': 'busybox',
      VSwitchId: 'vsw-doctor-probe-nonexistent',
      SecurityGroupId: 'sg-doctor-probe-nonexistent',
    },
  },
  { action: 'DeleteContainerGroup', query: { ContainerGroupId: 'eci-doctor-probe-nonexistent' } },
  { action: 'UpdateContainerGroup', query: { ContainerGroupId: 'eci-doctor-probe-nonexistent' } },
  { action: 'RestartContainerGroup', query: { ContainerGroupId: 'eci-doctor-probe-nonexistent' } },
  {
    action: 'DescribeContainerLog',
    query: { ContainerGroupId: 'eci-doctor-probe-nonexistent', ContainerName: 'probe' },
  },
  {
    action: 'ExecContainerCommand',
    query: { ContainerGroupId: 'eci-doctor-probe-nonexistent', ContainerName: 'probe', Command: '["true"]' },
  },
  { action: 'DescribeContainerGroupMetric', query: { ContainerGroupId: 'eci-doctor-probe-nonexistent' } },
  {
    action: 'DescribeMultiContainerGroupMetric',
    query: { ContainerGroupIds: '["eci-doctor-probe-nonexistent"]' },
  },
  { action: 'ExportContainerGroupTemplate', query: { ContainerGroupId: 'eci-doctor-probe-nonexistent' } },
  { action: 'CreateContainerGroupFromTemplate', query: { Template: '{}', DryRun: 'true' } },
  {
    action: 'UpdateContainerGroupByTemplate',
    query: { Template: '{"ContainerGroupId":"eci-doctor-probe-nonexistent"}' },
  },
  {
    action: 'CreateImageCache',
    query: {
      DryRun: 'true',
      ImageCacheName: 'doctor-probe',
      'Image.1': 'busybox',
      VSwitchId: 'vsw-doctor-probe-nonexistent',
      SecurityGroupId: 'sg-doctor-probe-nonexistent',
    },
  },
  { action: 'DescribeImageCaches', query: { Limit: '1' } },
  { action: 'DeleteImageCache', query: { ImageCacheId: 'imc-doctor-probe-nonexistent' } },
];

/** Probes every action; a probe is fine unless the cloud refuses the caller (auth) or cannot be reached. */
export async function checkPermissions(eci: EciClient): Promise<Check[]> {
  const out: Check[] = [];
  for (const p of RAM_PROBES) {
    try {
      await eci.rawCall(p.action, p.query);
      out.push({ name: `eci:${p.action}`, ok: true, detail: 'allowed' });
    } catch (err) {
      if (!(err instanceof EciApiError)) {
        out.push({ name: `eci:${p.action}`, ok: false, detail: describeError(err) });
        continue;
      }
      if (err.kind === 'auth') {
        out.push({
          name: `eci:${p.action}`,
          ok: false,
          detail: `${err.cloudCode}: refused`,
          fix: /AccessKey|Signature|TimeStamp|Nonce/i.test(err.cloudCode)
            ? 'the AccessKey is wrong: check access-key-id/access-key-secret (or ECI_ACCESS_KEY/ECI_SECRET_KEY)'
            : `grant "eci:${p.action}" to the RAM user (custom policy from the install guide, or AliyunECIFullAccess)`,
        });
      } else if (err.kind === 'server' && err.cloudCode === 'NetworkError') {
        out.push({
          name: `eci:${p.action}`,
          ok: false,
          detail: err.message,
          fix: 'check the endpoint and network access to ECI',
        });
      } else {
        // NotFound, InvalidParameter, DryRunOperation ...: the call was authorised and got to validation.
        out.push({ name: `eci:${p.action}`, ok: true, detail: `allowed (probe answered ${err.cloudCode})` });
      }
    }
  }
  return out;
}

export function formatChecks(checks: Check[]): string {
  return checks
    .map(
      (c) =>
        `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(40)} ${c.detail}${c.ok || !c.fix ? '' : `\n      fix: ${c.fix}`}`,
    )
    .join('\n');
}
