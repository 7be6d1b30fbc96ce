import { access } from 'node:fs/promises';
import type { RegionConfig } from '../../../config.ts';
import { type Cidr, numberToIp, parseCidr } from '../../../network.ts';
import { CommandError, type HostTools, run } from './host.ts';

/**
 * Pod networking of the process runtime: one Linux bridge per emulator, one veth pair per container
 * group (the group's end is `eth0` in its network namespace, holding the IntranetIp the API reports).
 * The host reaches every vSwitch through the bridge, where it holds each vSwitch's first address.
 * Pod namespaces get their vSwitch subnet and their VPC on-link, and no default route: nothing is
 * forwarded or translated, so no packet for a pod IP leaves the machine.
 *
 * Names derive from the emulator instance (a hash of its state directory), so emulators side by side
 * never share or remove each other's links: bridge `evbr-<instance>`, veths `ev<instance>-<group>`.
 */

export function bridgeName(instance: string): string {
  return `evbr-${instance}`;
}

/** Host end of a group's veth pair (15 characters at most, as the kernel wants). */
export function vethName(instance: string, groupId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < groupId.length; i++) h = Math.imul(h ^ groupId.charCodeAt(i), 0x01000193);
  return `ev${instance}-${(h >>> 0).toString(16).padStart(8, '0').slice(0, 6)}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

/** 10.64.0.0/10 in /20 blocks: where emulators without a configured region take their VPC. */
const POOL_BASE = (10 << 24) | (64 << 16);
const POOL_BLOCKS = 1024;

/**
 * The region of a process-runtime emulator whose configuration names none: the default region's
 * names, with a VPC /20 of its own (vSwitches /22 per zone) that overlaps no route on this machine.
 * `seed` picks the first block tried, so each instance tends to a different one.
 */
export function deriveRegion(base: RegionConfig, seed: number, taken: readonly Cidr[]): RegionConfig {
  for (let k = 0; k < POOL_BLOCKS; k++) {
    const block = (((seed + k) % POOL_BLOCKS) + POOL_BLOCKS) % POOL_BLOCKS;
    const vpcBase = (POOL_BASE + block * 4096) >>> 0;
    const vpc: Cidr = { base: vpcBase, prefix: 20, size: 4096 };
    if (taken.some((t) => overlaps(t, vpc))) continue;
    const cidr = (offset: number, prefix: number) => `${numberToIp((vpcBase + offset) >>> 0)}/${prefix}`;
    const mainVpc = base.vSwitches[0]?.vpcId ?? base.vpcs[0]!.id;
    const vpcs = base.vpcs.map((v) => (v.id === mainVpc ? { ...v, cidr: cidr(0, 20) } : v));
    const vSwitches = base.vSwitches
      .filter((v) => v.vpcId === mainVpc)
      .slice(0, 4)
      .map((v, i) => ({ ...v, cidr: cidr(i * 1024, 22) }));
    return { ...base, vpcs, vSwitches };
  }
  throw new Error('no free /20 in 10.64.0.0/10 on this machine for the emulator network');
}

/** IPv4 destinations routed on this machine (default routes aside), and the device of each. */
export async function hostRoutes(tools: HostTools): Promise<{ cidr: Cidr; dev: string }[]> {
  const { stdout } = await run(tools.ip, ['-j', '-4', 'route', 'show', 'table', 'all']);
  const out: { cidr: Cidr; dev: string }[] = [];
  for (const r of JSON.parse(stdout || '[]') as { dst?: string; dev?: string; type?: string }[]) {
    if (r.dst === undefined || r.dst === 'default' || (r.type !== undefined && r.type !== 'unicast'))
      continue;
    const c = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    if (c !== null) out.push({ cidr: c, dev: r.dev ?? '?' });
  }
  return out;
}

export interface SubnetPlan {
  vSwitchId: string;
  cidr: string;
}

export class BridgeNetwork {
  readonly bridge: string;
  readonly #instance: string;
  readonly #tools: HostTools;
  readonly #subnets: readonly SubnetPlan[];
  readonly #marker: string;

  constructor(o: { instance: string; tools: HostTools; subnets: readonly SubnetPlan[]; marker: string }) {
    this.#instance = o.instance;
    this.#tools = o.tools;
    this.#subnets = o.subnets;
    this.bridge = bridgeName(o.instance);
    this.#marker = o.marker;
  }

  /**
   * Creates the bridge with the host's address in every vSwitch. Fails, naming the vSwitch, when its
   * range is already routed on this machine (another emulator, or a network of the host).
   */
  async up(): Promise<void> {
    const routes = await hostRoutes(this.#tools);
    for (const s of this.#subnets) {
      const c = parseCidr(s.cidr)!;
      const clash = routes.find((r) => r.dev !== this.bridge && overlaps(r.cidr, c));
      if (clash !== undefined) {
        throw new Error(
          `vSwitch ${s.vSwitchId} (${s.cidr}) overlaps ${numberToIp(clash.cidr.base)}/${clash.cidr.prefix}, already routed to ${clash.dev} on this machine; ` +
            'configure the emulator with a range of its own (region.vpcs and region.vSwitches)',
        );
      }
    }
    await this.#ip(['link', 'del', this.bridge]).catch(() => undefined);
    const lines = [
      `link add ${this.bridge} type bridge`,
      `link set ${this.bridge} up`,
      ...this.#subnets.map((s) => {
        const c = parseCidr(s.cidr)!;
        return `addr add ${numberToIp(c.base + 1)}/${c.prefix} dev ${this.bridge} noprefixroute`;
      }),
    ];
    await this.#batch(lines);
    await this.#ip(['link', 'set', 'dev', this.bridge, 'alias', this.#marker]);
    for (const s of this.#subnets) {
      const c = parseCidr(s.cidr)!;
      try {
        // An explicit route: adding it fails (EEXIST) if another device won the same range meanwhile.
        await this.#ip([
          'route',
          'add',
          s.cidr,
          'dev',
          this.bridge,
          'proto',
          'kernel',
          'scope',
          'link',
          'src',
          numberToIp(c.base + 1),
        ]);
      } catch (err) {
        await this.down();
        throw new Error(`vSwitch ${s.vSwitchId} (${s.cidr}): ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /**
   * Plugs the group's network namespace (held by `pid`) into the bridge: a veth pair whose other end
   * is `eth0` in the namespace. Returns what the holder configures inside (see scripts.ts PAUSE):
   * `<ip>/<prefix>`, and the VPC route on-link when the VPC is wider than the vSwitch.
   */
  async plug(o: {
    groupId: string;
    pid: number;
    ip: string;
    vSwitchCidr: string;
    vpcCidr: string;
  }): Promise<string> {
    const veth = vethName(this.#instance, o.groupId);
    const sub = parseCidr(o.vSwitchCidr)!;
    const vpc = parseCidr(o.vpcCidr);
    const lines = [
      `link add ${veth} type veth peer name eth0 netns ${o.pid}`,
      `link set ${veth} master ${this.bridge}`,
      `link set ${veth} up`,
    ];
    try {
      await this.#batch(lines);
    } catch (err) {
      // A veth of an earlier attempt may be in the way: remove it and try once more.
      if (!(err instanceof CommandError) || !/exists/i.test(err.stderr)) throw err;
      await this.#ip(['link', 'del', veth]).catch(() => undefined);
      await this.#batch(lines);
    }
    const route = vpc !== null && vpc.prefix < sub.prefix ? ` ${numberToIp(vpc.base)}/${vpc.prefix}` : '';
    return `${o.ip}/${sub.prefix}${route}`;
  }

  /** Removes the group's veth (the kernel removes it too when the namespace goes). */
  async detach(groupId: string): Promise<void> {
    const veth = vethName(this.#instance, groupId);
    if (
      (await access(`/sys/class/net/${veth}`).then(
        () => true,
        () => false,
      )) === false
    )
      return;
    await this.#ip(['link', 'del', veth]).catch(() => undefined);
  }

  async down(): Promise<void> {
    await this.#ip(['link', 'del', this.bridge]).catch(() => undefined);
  }

  /** Traffic counters of the group's interface, as the group sees them. */
  static counterFile(instance: string, groupId: string, counter: string): string {
    return `/sys/class/net/${vethName(instance, groupId)}/statistics/${counter}`;
  }

  #ip(args: string[]): Promise<unknown> {
    return run(this.#tools.ip, args);
  }

  #batch(lines: string[]): Promise<unknown> {
    return run(this.#tools.ip, ['-b', '-'], { input: `${lines.join('\n')}\n` });
  }
}

/** Every link of an instance (its bridge and veths), for removing what a crashed emulator left. */
export async function instanceLinks(tools: HostTools, instance: string): Promise<string[]> {
  const { stdout } = await run(tools.ip, ['-j', 'link', 'show']);
  const names = (JSON.parse(stdout || '[]') as { ifname?: string }[]).map((l) => l.ifname ?? '');
  return names.filter((n) => n === bridgeName(instance) || n.startsWith(`ev${instance}-`));
}

export async function removeLinks(tools: HostTools, links: readonly string[]): Promise<void> {
  for (const l of links) {
    await run(tools.ip, ['link', 'del', l]).catch((err: unknown) => {
      if (!(err instanceof CommandError) || !/Cannot find device/.test(err.stderr)) throw err;
    });
  }
}
