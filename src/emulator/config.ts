import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEFAULT_QUOTAS_PER_MINUTE } from '../eci-api/quotas.ts';
import { ECI_GROUP_STATUSES, type EciGroupStatus } from '../eci-api/statuses.ts';
import { ErrorCodes, ProductError } from '../util/errors.ts';
import { parseCidr } from './network.ts';

/**
 * Emulator configuration: the cloud the emulator pretends to be, as data. Everything has a default, so
 * `{}` is a complete configuration: region cn-hangzhou with three zones, one vSwitch per zone, one VPC
 * with a security group (plus a second VPC whose security group exists to exercise mismatches), the
 * AccessKey pair `LTAI-emulator` / `emulator-secret`, fast lifecycle timings and the documented quotas.
 */

export const GROUP_STATUSES = ECI_GROUP_STATUSES;
export type GroupStatus = EciGroupStatus;

/** States a stage can leave on a timer; the others change only by container activity or on demand. */
export const TIMED_STATUSES = ['Scheduling', 'Pending', 'Restarting', 'Updating', 'Terminating'] as const;

const eventTemplateSchema = z.object({
  type: z.enum(['Normal', 'Warning']).default('Normal'),
  reason: z.string().min(1),
  /** `{id}`, `{name}`, `{zone}`, `{ip}` are replaced. */
  message: z.string(),
});
export type EventTemplate = z.infer<typeof eventTemplateSchema>;

export const stageSchema = z.object({
  from: z.enum(TIMED_STATUSES),
  /** `Deleted` removes the container group. */
  to: z.enum([...GROUP_STATUSES, 'Deleted']),
  delayMs: z.number().int().min(0),
  events: z.array(eventTemplateSchema).default([]),
});
export type Stage = z.infer<typeof stageSchema>;

/**
 * The process runtime's stages: only Scheduling is timed (the rest follows the real processes), and
 * briefly, so a group starts as fast as its containers do.
 */
export const PROCESS_STAGES: Stage[] = [
  {
    from: 'Scheduling',
    to: 'Pending',
    delayMs: 20,
    events: [{ type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned {name} to {zone}' }],
  },
];

export const DEFAULT_STAGES: Stage[] = [
  {
    from: 'Scheduling',
    to: 'Pending',
    delayMs: 150,
    events: [
      { type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned {name} to {zone}' },
      { type: 'Normal', reason: 'SuccessfulMountVolume', message: 'Successfully mounted volumes' },
    ],
  },
  { from: 'Pending', to: 'Running', delayMs: 350, events: [] },
  { from: 'Restarting', to: 'Pending', delayMs: 300, events: [] },
  { from: 'Updating', to: 'Pending', delayMs: 300, events: [] },
  { from: 'Terminating', to: 'Deleted', delayMs: 200, events: [] },
];

/** Per-account, per-action calls per minute, from the ECI quota documentation, by action name. */
export const DEFAULT_QUOTAS: Readonly<Record<string, number>> = DEFAULT_QUOTAS_PER_MINUTE;

/** Largest `Limit` each paged action accepts (the reference: 20 for lists, 200 for the status feed). */
export const DEFAULT_PAGE_LIMITS: Record<string, { default: number; max: number }> = {
  DescribeContainerGroups: { default: 20, max: 20 },
  DescribeContainerGroupStatus: { default: 200, max: 200 },
  DescribeContainerGroupEvents: { default: 200, max: 200 },
  DescribeImageCaches: { default: 20, max: 20 },
};

export const faultSchema = z
  .object({
    /** throttle: Throttling.User; error: a 5xx (or the given code); latency: delays the answer. */
    kind: z.enum(['throttle', 'error', 'latency']),
    /** Actions it applies to; absent = every action. */
    actions: z.array(z.string().min(1)).optional(),
    /** Number of matching requests it applies to, then it disappears; absent = until removed. */
    count: z.number().int().positive().optional(),
    probability: z.number().min(0).max(1).default(1),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    status: z.number().int().min(400).max(599).optional(),
    code: z.string().min(1).optional(),
    message: z.string().optional(),
  })
  .refine((f) => f.kind !== 'latency' || f.latencyMs !== undefined, {
    message: 'a latency fault needs latencyMs',
    path: ['latencyMs'],
  });
export type FaultSpec = z.infer<typeof faultSchema>;
export type FaultInput = z.input<typeof faultSchema>;

const zoneSchema = z.object({
  id: z.string().min(1),
  /** Most container groups that may be alive in the zone at once; null = unlimited. */
  stock: z.number().int().min(0).nullable().default(null),
});

const regionSchema = z.object({
  id: z.string().min(1),
  zones: z.array(zoneSchema).min(1),
  vpcs: z.array(z.object({ id: z.string().min(1), cidr: z.string() })).min(1),
  vSwitches: z
    .array(z.object({ id: z.string().min(1), zoneId: z.string(), vpcId: z.string(), cidr: z.string() }))
    .min(1),
  securityGroups: z.array(z.object({ id: z.string().min(1), vpcId: z.string() })).min(1),
});
export type RegionConfig = z.infer<typeof regionSchema>;

export const DEFAULT_REGION: RegionConfig = {
  id: 'cn-hangzhou',
  zones: [
    { id: 'cn-hangzhou-h', stock: null },
    { id: 'cn-hangzhou-i', stock: null },
    { id: 'cn-hangzhou-j', stock: null },
  ],
  vpcs: [
    { id: 'vpc-emulator', cidr: '192.168.0.0/16' },
    { id: 'vpc-emulator-other', cidr: '172.16.0.0/16' },
  ],
  vSwitches: [
    { id: 'vsw-emulator-h', zoneId: 'cn-hangzhou-h', vpcId: 'vpc-emulator', cidr: '192.168.0.0/18' },
    { id: 'vsw-emulator-i', zoneId: 'cn-hangzhou-i', vpcId: 'vpc-emulator', cidr: '192.168.64.0/18' },
    { id: 'vsw-emulator-j', zoneId: 'cn-hangzhou-j', vpcId: 'vpc-emulator', cidr: '192.168.128.0/18' },
  ],
  securityGroups: [
    { id: 'sg-emulator', vpcId: 'vpc-emulator' },
    { id: 'sg-emulator-other', vpcId: 'vpc-emulator-other' },
  ],
};

export const DEFAULT_ACCESS_KEY = { id: 'LTAI-emulator', secret: 'emulator-secret' } as const;

/** An image the process runtime can run, added by configuration (see runtime/process/images). */
const configuredImageSchema = z.object({
  /** Repository it answers to: `myapp`, `team/myapp` or `registry.example.com/team/myapp`. */
  name: z.string().min(1),
  /** A directory, or a tarball (.tar, .tar.gz, .tar.xz), holding the root filesystem. */
  rootfs: z.string().min(1),
  entrypoint: z.array(z.string()).optional(),
  cmd: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  workingDir: z.string().startsWith('/').optional(),
  user: z.number().int().min(0).optional(),
});

export const RUNTIME_CHOICES = ['auto', 'process', 'simulated'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export const emulatorConfigSchema = z
  .object({
    /**
     * What runs behind the container groups: `simulated` (the exit-code convention, nothing runs),
     * `process` (real processes in namespaces; Linux, as root) or `auto` (process where it can run,
     * else simulated, saying why once at start).
     */
    runtime: z.enum(RUNTIME_CHOICES).default('simulated'),
    process: z
      .object({
        /** Where built root filesystems are cached (default ~/.cache/eci-virtual-node/images). */
        imageCacheDir: z.string().min(1).optional(),
        /** Where NFS volumes live: <nfsDir>/<server>/<path> (default <stateDir>/nfs). */
        nfsDir: z.string().min(1).optional(),
        /** Bytes of log kept per container run before it is rotated (once). */
        logMaxBytes: z
          .number()
          .int()
          .positive()
          .default(10 * 1024 * 1024),
        images: z.array(configuredImageSchema).default([]),
      })
      .prefault({}),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9440),
    /** Where the journal and snapshots live; absent = state is kept in memory only. */
    stateDir: z.string().min(1).optional(),
    /** Serve HTTPS with this certificate; absent = plain HTTP. */
    tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
    logLevel: z.string().default('info'),
    accessKeys: z
      .array(z.object({ id: z.string().min(1), secret: z.string().min(1) }))
      .min(1)
      .default([{ ...DEFAULT_ACCESS_KEY }]),
    auth: z
      .object({
        /** How far x-acs-date / Timestamp may be from the emulator's clock (the cloud allows 15 min). */
        maxClockSkewSeconds: z.number().int().positive().default(900),
        /**
         * How long a SignatureNonce stays used; never less than twice the clock skew, the longest a
         * request carrying it can still pass the timestamp check.
         */
        nonceTtlSeconds: z.number().int().positive().default(900),
      })
      .prefault({}),
    region: regionSchema.default(DEFAULT_REGION),
    lifecycle: z
      .object({
        stages: z.array(stageSchema).default(DEFAULT_STAGES),
        /** Back-off before a terminated container restarts: initial, doubled per restart, capped. */
        restartBackoffMs: z
          .object({
            initial: z.number().int().min(0).default(1000),
            max: z.number().int().min(0).default(10_000),
          })
          .prefault({}),
        /** Shortest time a container that exits by convention is seen Running. */
        minRunMs: z.number().int().min(0).default(200),
        /** Run time of a container with ECI_EMULATOR_EXIT_CODE but no ECI_EMULATOR_RUN_SECONDS. */
        defaultRunSeconds: z.number().min(0).default(1),
        /** A running container logs a heartbeat line this often (deterministic log content). */
        heartbeatLogSeconds: z.number().int().positive().default(10),
        maxEventsPerGroup: z.number().int().positive().default(50),
        /** Build time of an image cache, per image it pulls. */
        imageCacheReadyMs: z.number().int().min(0).default(500),
        /** Pull time of one image no image cache holds, added to the Pending stage (0 = none). */
        imagePullMs: z.number().int().min(0).default(0),
      })
      .prefault({}),
    quotas: z
      .object({
        enabled: z.boolean().default(true),
        /** Calls per minute by action; missing actions use the documented defaults. */
        perMinute: z.record(z.string(), z.number().int().positive()).default({}),
      })
      .prefault({}),
    pageLimits: z
      .record(
        z.string(),
        z.object({ default: z.number().int().positive(), max: z.number().int().positive() }),
      )
      .default({}),
    faults: z.array(faultSchema).default([]),
    /** The answer to a create when no requested zone has stock. */
    stockOut: z
      .object({
        status: z.number().int().default(403),
        code: z.string().default('OperationDenied.NoStock'),
        message: z
          .string()
          .default(
            'The requested resource is sold out in the specified zone; try other types of resources or other regions and zones.',
          ),
      })
      .prefault({}),
    /** Reject parameters the action does not know (the cloud ignores them). */
    strictParameters: z.boolean().default(false),
    journal: z
      .object({
        /** fsync before answering a write; off only for throw-away benchmarks. */
        fsync: z.boolean().default(true),
        /**
         * When acknowledged changes cannot be read back on start (a damaged line with intact ones after
         * it, a missing journal): `refuse` to start (default), or `salvage` what can be read, keeping the
         * damaged files in the state directory's quarantine/. A torn last line is always cut, and a
         * damaged snapshot is always rebuilt from the previous generation.
         */
        recovery: z.enum(['refuse', 'salvage']).default('refuse'),
        /** Rewrite the snapshot when the journal grows past this many bytes. */
        compactBytes: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const r = cfg.region;
    const zones = new Set(r.zones.map((z) => z.id));
    const vpcs = new Map(r.vpcs.map((v) => [v.id, v]));
    for (const [i, v] of r.vpcs.entries()) {
      if (parseCidr(v.cidr) === null)
        ctx.addIssue({ code: 'custom', path: ['region', 'vpcs', i, 'cidr'], message: 'not a CIDR' });
    }
    for (const [i, s] of r.vSwitches.entries()) {
      const path = ['region', 'vSwitches', i];
      if (!zones.has(s.zoneId))
        ctx.addIssue({ code: 'custom', path: [...path, 'zoneId'], message: `unknown zone ${s.zoneId}` });
      const vpc = vpcs.get(s.vpcId);
      if (vpc === undefined)
        ctx.addIssue({ code: 'custom', path: [...path, 'vpcId'], message: `unknown VPC ${s.vpcId}` });
      const cidr = parseCidr(s.cidr);
      if (cidr === null) ctx.addIssue({ code: 'custom', path: [...path, 'cidr'], message: 'not a CIDR' });
      else if (cidr.size < 8)
        ctx.addIssue({ code: 'custom', path: [...path, 'cidr'], message: 'too small (need /29 or larger)' });
    }
    for (const [i, g] of r.securityGroups.entries()) {
      if (!vpcs.has(g.vpcId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['region', 'securityGroups', i, 'vpcId'],
          message: `unknown VPC ${g.vpcId}`,
        });
      }
    }
    const stageFrom = new Set<string>();
    for (const [i, s] of cfg.lifecycle.stages.entries()) {
      if (stageFrom.has(s.from)) {
        ctx.addIssue({
          code: 'custom',
          path: ['lifecycle', 'stages', i, 'from'],
          message: `two stages leave ${s.from}`,
        });
      }
      stageFrom.add(s.from);
    }
  });

export type EmulatorConfig = z.infer<typeof emulatorConfigSchema>;
export type EmulatorConfigInput = z.input<typeof emulatorConfigSchema>;

/** Validates a configuration object; the error names every offending field. */
export function parseEmulatorConfig(input: unknown): EmulatorConfig {
  const result = emulatorConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ProductError(ErrorCodes.CONFIG_INVALID, `emulator configuration is invalid: ${issues}`);
  }
  return result.data;
}

/** Reads a YAML (or JSON) configuration file and validates it. */
export async function loadEmulatorConfigFile(file: string): Promise<EmulatorConfigInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ProductError(ErrorCodes.CONFIG_INVALID, `cannot read emulator config ${file}`, { cause: err });
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ProductError(ErrorCodes.CONFIG_INVALID, `emulator config ${file} is not valid YAML`, {
      cause: err,
    });
  }
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw new ProductError(ErrorCodes.CONFIG_INVALID, `emulator config ${file} must be a mapping`);
  }
  return (data ?? {}) as EmulatorConfigInput;
}

export function quotaFor(cfg: EmulatorConfig, action: string): number | undefined {
  return cfg.quotas.perMinute[action] ?? DEFAULT_QUOTAS[action];
}

export function pageLimitFor(cfg: EmulatorConfig, action: string): { default: number; max: number } {
  return cfg.pageLimits[action] ?? DEFAULT_PAGE_LIMITS[action] ?? { default: 20, max: 20 };
}
