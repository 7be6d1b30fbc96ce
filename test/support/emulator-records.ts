import { runtimesFor } from '../../src/emulator/engine/lifecycle.ts';
import type { ContainerSpec, GroupRecord, GroupSpec } from '../../src/emulator/engine/model.ts';

/** Emulator records for the lifecycle's unit tests: one container, a group just scheduled. */

export function container(over: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name: 'c', image: 'img', command: [], args: [], env: [], ports: [], volumeMounts: [], ...over };
}

export function emulatorGroup(spec: Partial<GroupSpec> = {}): GroupRecord {
  const full: GroupSpec = {
    containers: [container()],
    initContainers: [],
    volumes: [],
    restartPolicy: 'Always',
    cpu: 1,
    memory: 2,
    hostAliases: [],
    sysctls: [],
    ntpServers: [],
    ...spec,
  };
  return {
    id: 'eci-test',
    seq: 1,
    uuid: 'u',
    name: 'g',
    regionId: 'r',
    zoneId: 'z',
    vSwitchId: 'v',
    securityGroupId: 's',
    vpcId: 'vpc',
    ip: '10.0.0.4',
    tags: [],
    spec: full,
    status: 'Scheduling',
    createdAt: 0,
    statusSince: 0,
    changedAt: 0,
    containers: runtimesFor(full.containers),
    initContainers: runtimesFor(full.initContainers),
    events: [],
    eventSeq: 0,
  };
}
