import { cloudErrors } from '../../engine/cloud-errors.ts';
import { LOG_BYTES_MAX, LOG_TAIL_DEFAULT, LOG_TAIL_MAX } from '../../engine/logs.ts';
import { metricRecord } from '../metrics.ts';
import type { GroupRecord } from '../../engine/model.ts';
import { type ActionDef, COMMON_ACTION_PARAMS, groupsByIds } from './context.ts';

function findContainer(g: GroupRecord, name: string) {
  const i = g.spec.containers.findIndex((c) => c.name === name);
  if (i >= 0) return { spec: g.spec.containers[i]!, rt: g.containers[i]! };
  const j = g.spec.initContainers.findIndex((c) => c.name === name);
  if (j >= 0) return { spec: g.spec.initContainers[j]!, rt: g.initContainers[j]! };
  throw cloudErrors.containerNotFound(g.id, name);
}

function parseTime(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw cloudErrors.invalidParameter(name, 'Use an ISO 8601 time such as 2024-01-01T00:00:00Z.');
  return t;
}

const PERIODS = [15, 60, 300, 600, 3600];
const MAX_RECORDS = 1440;

export const runtimeActions: Record<string, ActionDef> = {
  DescribeContainerLog: {
    params: [
      ...COMMON_ACTION_PARAMS,
      'ContainerGroupId',
      'ContainerName',
      'StartTime',
      'Tail',
      'LastTime',
      'SinceSeconds',
      'LimitBytes',
      'Timestamps',
    ],
    regionRequired: true,
    async handle(ctx) {
      const p = ctx.params;
      const g = ctx.core.getGroup(p.requiredString('ContainerGroupId'));
      const name = p.requiredString('ContainerName');
      const { rt } = findContainer(g, name);
      const previous = p.bool('LastTime') ?? false;
      const state = previous ? rt.previous : rt;
      if (state?.startTime === undefined) {
        throw cloudErrors.incorrectStatus(
          previous
            ? `Previous terminated container ${name} in container group ${g.id} is not found.`
            : `Container ${name} in container group ${g.id} is waiting to start.`,
        );
      }
      // The documented limits: Tail 500 by default and at most 2000 lines; LimitBytes 1..1048576.
      const tail = p.int('Tail', { min: 0 });
      if (tail !== undefined && tail > LOG_TAIL_MAX)
        throw cloudErrors.invalidParameter('Tail', `It must be at most ${LOG_TAIL_MAX}.`);
      const limitBytes = p.int('LimitBytes', { min: 1 });
      if (limitBytes !== undefined && limitBytes > LOG_BYTES_MAX)
        throw cloudErrors.invalidParameter('LimitBytes', `It must be between 1 and ${LOG_BYTES_MAX}.`);
      const sinceSeconds = p.int('SinceSeconds', { min: 1 });
      const since =
        sinceSeconds !== undefined
          ? ctx.now - sinceSeconds * 1000
          : parseTime('StartTime', p.string('StartTime'));
      const content = await ctx.core.runtime.logs(g, name, {
        previous,
        tail: tail ?? LOG_TAIL_DEFAULT,
        ...(since === undefined ? {} : { since }),
        limitBytes: limitBytes ?? LOG_BYTES_MAX,
        timestamps: p.bool('Timestamps') ?? false,
        now: ctx.now,
      });
      return { ContainerName: name, Content: content };
    },
  },

  ExecContainerCommand: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupId', 'ContainerName', 'Command', 'TTY', 'Stdin', 'Sync'],
    regionRequired: true,
    async handle(ctx) {
      const p = ctx.params;
      const g = ctx.core.getGroup(p.requiredString('ContainerGroupId'));
      const name = p.requiredString('ContainerName');
      const commandText = p.requiredString('Command');
      // One command may be sent as a plain string; several as a JSON array.
      const command = commandText.trim().startsWith('[') ? p.jsonStrings('Command', 20)! : [commandText];
      if (command.some((c) => c.length > 256)) {
        throw cloudErrors.valueExceeded('Command', 'Each command may be at most 256 characters.');
      }
      const tty = p.bool('TTY') ?? false;
      const sync = p.bool('Sync') ?? false;
      if (sync && tty) throw cloudErrors.invalidParameter('TTY', 'TTY must be false when Sync is true.');
      const { rt } = findContainer(g, name);
      if (g.status !== 'Running' || rt.state !== 'Running') {
        throw cloudErrors.incorrectStatus(`Container ${name} in container group ${g.id} is not running.`);
      }
      if (sync) return { SyncResponse: await ctx.core.runtime.execSync(g, name, command) };
      const session = ctx.core.exec.open(g.id, name, command, tty, p.bool('Stdin') ?? false);
      const base = new URL(ctx.core.baseUrl);
      const wsProto = base.protocol === 'https:' ? 'wss:' : 'ws:';
      return {
        WebSocketUri: `${wsProto}//${base.host}/_emulator/exec/${session.token}`,
        HttpUrl: `${base.protocol}//${base.host}/_emulator/exec/${session.token}`,
      };
    },
  },

  DescribeContainerGroupMetric: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupId', 'StartTime', 'EndTime', 'Period'],
    regionRequired: true,
    async handle(ctx) {
      const p = ctx.params;
      const g = ctx.core.getGroup(p.requiredString('ContainerGroupId'));
      const periodText = p.string('Period');
      const period = periodText === undefined || periodText === '' ? 60 : Number(periodText);
      if (!PERIODS.includes(period))
        throw cloudErrors.invalidParameter('Period', `Valid values: ${PERIODS.join(', ')}.`);
      const end = parseTime('EndTime', p.string('EndTime')) ?? ctx.now;
      const start = parseTime('StartTime', p.string('StartTime')) ?? end - 5 * 60_000;
      if (start > end)
        throw cloudErrors.invalidParameter('StartTime', 'StartTime must not be after EndTime.');
      const step = period * 1000;
      if ((end - start) / step > MAX_RECORDS) {
        throw cloudErrors.invalidParameter('Period', `The range holds more than ${MAX_RECORDS} periods.`);
      }
      const records: Record<string, unknown>[] = [];
      const running = g.startedAt !== undefined;
      const stop = g.status === 'Running' ? Math.min(end, ctx.now) : Math.min(end, g.changedAt);
      const record = async (t: number) => {
        const sample = await ctx.core.runtime.sample(g, t);
        if (sample !== undefined) records.push(metricRecord(g, sample, 'single'));
      };
      if (running) {
        for (let t = Math.ceil(start / step) * step; t <= stop; t += step) {
          if (t >= g.startedAt!) await record(t);
        }
        // A group younger than one period still shows its current sample, as a monitor would.
        if (records.length === 0 && stop >= g.startedAt! && stop >= start) await record(stop);
      }
      return { ContainerGroupId: g.id, Records: records };
    },
  },

  DescribeMultiContainerGroupMetric: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupIds', 'MetricType'],
    regionRequired: true,
    async handle(ctx) {
      const p = ctx.params;
      const ids = p.jsonStrings('ContainerGroupIds', 20);
      if (ids === undefined) throw cloudErrors.missingParameter('ContainerGroupIds');
      const type = p.string('MetricType');
      if (type !== undefined && type !== '' && type !== 'summary') {
        throw cloudErrors.invalidParameter('MetricType', 'Valid values: summary.');
      }
      return {
        MonitorDatas: await Promise.all(
          groupsByIds(ctx, ids).map(async (g) => {
            const sample = g.status === 'Running' ? await ctx.core.runtime.sample(g, ctx.now) : undefined;
            return {
              ContainerGroupId: g.id,
              Records: sample === undefined ? [] : [metricRecord(g, sample, 'multi')],
            };
          }),
        ),
      };
    },
  },
};
