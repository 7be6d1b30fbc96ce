import { Readable } from 'node:stream';
import { interpret, planContainerRun } from '../convention.ts';
import { type LogRequest, selectLines, simulatedLines } from '../logs.ts';
import { simulatedSample } from './simulated-usage.ts';
import type { GroupRecord } from '../model.ts';
import type { ExecHandle, ExecRequest, GroupSample, Runtime } from './types.ts';

/**
 * The simulated runtime: nothing runs. The lifecycle plans each run by the exit-code convention
 * (convention.ts); logs, exec output and metrics are functions of the record and the clock, so they
 * cost no memory per group and answer the same after a restart. Kept for benchmarks (10,000+ groups)
 * and for machines where the process runtime cannot run.
 */
export class SimulatedRuntime implements Runtime {
  readonly kind = 'simulated' as const;
  readonly #heartbeatSeconds: number;
  readonly #defaultRunSeconds: number;

  constructor(o: { heartbeatSeconds: number; defaultRunSeconds: number }) {
    this.#heartbeatSeconds = o.heartbeatSeconds;
    this.#defaultRunSeconds = o.defaultRunSeconds;
  }

  async start(): Promise<void> {}
  sync(): void {}
  forget(): void {}

  async logs(g: GroupRecord, container: string, q: LogRequest): Promise<string> {
    const i = g.spec.containers.findIndex((c) => c.name === container);
    const j = g.spec.initContainers.findIndex((c) => c.name === container);
    const spec = i >= 0 ? g.spec.containers[i]! : g.spec.initContainers[j]!;
    const rt = i >= 0 ? g.containers[i]! : g.initContainers[j]!;
    const state = q.previous ? rt.previous : rt;
    if (state === undefined) return '';
    const lines = simulatedLines(
      {
        container,
        image: spec.image,
        restartCount: q.previous ? Math.max(0, rt.restartCount - 1) : rt.restartCount,
        state,
        // The run's echo output follows from its command line (the convention), so it is not stored.
        output: planContainerRun(spec, this.#defaultRunSeconds).output,
      },
      q.now,
      this.#heartbeatSeconds,
    );
    return selectLines(lines, q);
  }

  exec(_g: GroupRecord, _container: string, req: ExecRequest): ExecHandle {
    const plan = interpret(req.command);
    const out = plan.output.map((l) => `${l}\n`).join('');
    return {
      stdout: Readable.from(out === '' ? [] : [Buffer.from(out)]),
      stderr: Readable.from([]),
      stdin: undefined,
      resize: () => undefined,
      exitCode: Promise.resolve(plan.kind === 'exits' ? plan.exitCode : 0),
      kill: () => undefined,
    };
  }

  async execSync(_g: GroupRecord, _container: string, command: string[]): Promise<string> {
    return interpret(command)
      .output.map((l) => `${l}\n`)
      .join('');
  }

  async sample(g: GroupRecord, t: number): Promise<GroupSample | undefined> {
    return g.startedAt !== undefined && t >= g.startedAt ? simulatedSample(g, t) : undefined;
  }

  endRun(): boolean {
    return false;
  }

  describe(): Record<string, unknown> {
    return { kind: this.kind };
  }

  async stop(): Promise<void> {}
}
