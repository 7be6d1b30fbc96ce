import { cloudErrors } from '../cloud-errors.ts';
import { interpret, planContainerRun } from '../convention.ts';
import { renderLog } from '../logs.ts';
import { metricRecord } from '../metrics.ts';
import type { GroupRecord } from '../model.ts';
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
    handle(ctx) {
      const p = ctx.params;
      const g = ctx.core.getGroup(p.requiredString('ContainerGroupId'));
      const name = p.requiredString('ContainerName');
      const { spec, rt } = findContainer(g, name);
      const previous = p.bool('LastTime') ?? false;
      const state = previous ? rt.previous : rt;
      if (state?.startTime === undefined) {
        throw cloudErrors.incorrectStatus(
          previous
            ? `Previous terminated container ${name} in container group ${g.id} is not found.`
            : `Container ${name} in container group ${g.id} is waiting to start.`,
        );
      }
      const content = renderLog(
        {
          container: name,
          image: spec.image,
          restartCount: previous ? Math.max(0, rt.restartCount - 1) : rt.restartCount,
          state,
          // The run's echo output follows from its command line (the convention), so it is not stored.
          output: planContainerRun(spec, ctx.core.config.lifecycle.defaultRunSeconds).output,
        },
        {
          now: ctx.now,
          heartbeatSeconds: ctx.core.config.lifecycle.heartbeatLogSeconds,
          tail: p.int('Tail', { min: 0 }),
          sinceSeconds: p.int('SinceSeconds', { min: 1 }),
          sinceTime: parseTime('StartTime', p.string('StartTime')),
          limitBytes: p.int('LimitBytes', { min: 1 }),
          timestamps: p.bool('Timestamps') ?? false,
        },
      );
      return { ContainerName: name, Content: content };
    },
  },

  ExecContainerCommand: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupId', 'ContainerName', 'Command', 'TTY', 'Stdin', 'Sync'],
    regionRequired: true,
    handle(ctx) {
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
      if (sync) {
        const plan = interpret(command);
        return { SyncResponse: plan.output.map((l) => `${l}\n`).join('') };
      }
      const session = ctx.core.exec.open(g.id, name, command, tty);
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
    handle(ctx) {
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
      if (running) {
        for (let t = Math.ceil(start / step) * step; t <= stop; t += step) {
          if (t >= g.startedAt!) records.push(metricRecord(g, t, 'single'));
        }
        // A group younger than one period still shows its current sample, as a monitor would.
        if (records.length === 0 && stop >= g.startedAt! && stop >= start)
          records.push(metricRecord(g, stop, 'single'));
      }
      return { ContainerGroupId: g.id, Records: records };
    },
  },

  DescribeMultiContainerGroupMetric: {
    params: [...COMMON_ACTION_PARAMS, 'ContainerGroupIds', 'MetricType'],
    regionRequired: true,
    handle(ctx) {
      const p = ctx.params;
      const ids = p.jsonStrings('ContainerGroupIds', 20);
      if (ids === undefined) throw cloudErrors.missingParameter('ContainerGroupIds');
      const type = p.string('MetricType');
      if (type !== undefined && type !== '' && type !== 'summary') {
        throw cloudErrors.invalidParameter('MetricType', 'Valid values: summary.');
      }
      return {
        MonitorDatas: groupsByIds(ctx, ids).map((g) => ({
          ContainerGroupId: g.id,
          Records:
            g.status === 'Running' && g.startedAt !== undefined ? [metricRecord(g, ctx.now, 'multi')] : [],
        })),
      };
    },
  },
};
