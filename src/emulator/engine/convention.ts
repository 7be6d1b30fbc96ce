/**
 * How an emulated container "runs". The emulator runs no images; a container runs forever unless its
 * command is one the emulator understands, or the environment tells it how to end. The convention
 * (documented in docs/emulator.md) lets Jobs, init steps and crash loops be exercised end to end:
 *
 * 1. env `ECI_EMULATOR_EXIT_CODE=N` and/or `ECI_EMULATOR_RUN_SECONDS=S`: runs S seconds (default
 *    `lifecycle.defaultRunSeconds`), then exits with N (default 0). This wins over the command.
 * 2. Command + Args (entrypoint and arguments concatenated):
 *    - `true` → exits 0; `false` → exits 1; `sleep S` → exits 0 after S seconds; `echo ...` → logs, exits 0
 *    - `sh|bash|ash|dash -c "<script>"`: the script is a list of `;`, `&&`, `||` or newline separated
 *      statements from `exit [N]`, `true`, `false`, `:`, `sleep S`, `echo ...`; it exits with `exit`'s
 *      code or the last status, after the sum of its sleeps. `echo` lines appear in the container log.
 *    - anything else (an unknown program, a statement the emulator does not know) runs forever.
 */

export type RunPlan =
  | { kind: 'exits'; runMs: number; exitCode: number; output: string[] }
  | { kind: 'forever'; output: string[] };

export const EXIT_CODE_ENV = 'ECI_EMULATOR_EXIT_CODE';
export const RUN_SECONDS_ENV = 'ECI_EMULATOR_RUN_SECONDS';

const SHELLS = new Set(['sh', 'bash', 'ash', 'dash']);

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/** `5`, `2.5`, `3s`, `2m`, `1h` → milliseconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text);
  if (m === null) return null;
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!]!;
  return Math.round(Number(m[1]) * unit);
}

/** Splits a statement into words, honouring single and double quotes (no expansion). */
export function splitWords(text: string): string[] | null {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const ch of text) {
    if (quote !== null) {
      if (ch === quote) quote = null;
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote !== null) return null;
  if (inWord) words.push(cur);
  return words;
}

type Op = ';' | '&&' | '||';

/** Splits a script at `;`, `&&`, `||` and newlines outside quotes. */
function splitStatements(script: string): { op: Op; text: string }[] {
  const out: { op: Op; text: string }[] = [];
  let cur = '';
  let op: Op = ';';
  let quote: string | null = null;
  for (let i = 0; i < script.length; i++) {
    const ch = script[i]!;
    if (quote !== null) {
      if (ch === quote) quote = null;
      cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      cur += ch;
      continue;
    }
    const two = script.slice(i, i + 2);
    if (two === '&&' || two === '||' || ch === ';' || ch === '\n') {
      out.push({ op, text: cur.trim() });
      op = two === '&&' || two === '||' ? two : ';';
      if (two === '&&' || two === '||') i++;
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push({ op, text: cur.trim() });
  return out.filter((s) => s.text !== '');
}

/** Runs one argv as a program; null when the emulator does not know it. */
function runProgram(argv: string[]): { ms: number; status: number; output: string[] } | null {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) return null;
  switch (basename(cmd)) {
    case 'true':
    case ':':
      return { ms: 0, status: 0, output: [] };
    case 'false':
      return { ms: 0, status: 1, output: [] };
    case 'echo':
      return { ms: 0, status: 0, output: [rest.filter((w) => w !== '-n' && w !== '-e').join(' ')] };
    case 'sleep': {
      const ms = rest.length === 1 ? parseDuration(rest[0]!) : null;
      return ms === null ? null : { ms, status: 0, output: [] };
    }
    default:
      return null;
  }
}

function runScript(script: string): RunPlan {
  let ms = 0;
  let status = 0;
  const output: string[] = [];
  for (const { op, text } of splitStatements(script)) {
    if ((op === '&&' && status !== 0) || (op === '||' && status === 0)) continue;
    const words = splitWords(text);
    if (words === null || words.length === 0) return { kind: 'forever', output };
    if (words[0] === 'exit') {
      const code = words.length > 1 ? Number(words[1]) : status;
      if (!Number.isInteger(code)) return { kind: 'forever', output };
      return { kind: 'exits', runMs: ms, exitCode: ((code % 256) + 256) % 256, output };
    }
    if (words[0] === 'set') continue;
    const r = runProgram(words);
    if (r === null) return { kind: 'forever', output };
    ms += r.ms;
    status = r.status;
    output.push(...r.output);
  }
  return { kind: 'exits', runMs: ms, exitCode: status, output };
}

/** What a program invocation does (used by containers and by synchronous exec). */
export function interpret(argv: string[]): RunPlan {
  if (argv.length === 0) return { kind: 'forever', output: [] };
  const prog = basename(argv[0]!);
  if (SHELLS.has(prog)) {
    const cIndex = argv.findIndex((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a));
    if (cIndex < 0 || argv[cIndex + 1] === undefined) return { kind: 'forever', output: [] };
    return runScript(argv[cIndex + 1]!);
  }
  const r = runProgram(argv);
  if (r === null) return { kind: 'forever', output: [] };
  return { kind: 'exits', runMs: r.ms, exitCode: r.status, output: r.output };
}

export interface ConventionInput {
  command: readonly string[];
  args: readonly string[];
  env: readonly { key: string; value?: string | undefined }[];
}

/** The run plan of a container: the env convention first, then its command line. */
export function planContainerRun(c: ConventionInput, defaultRunSeconds: number): RunPlan {
  const env = new Map(c.env.map((e) => [e.key, e.value ?? '']));
  const codeText = env.get(EXIT_CODE_ENV);
  const secondsText = env.get(RUN_SECONDS_ENV);
  const code =
    codeText !== undefined && /^\d{1,3}$/.test(codeText.trim()) ? Number(codeText) % 256 : undefined;
  const seconds =
    secondsText !== undefined && /^\d+(\.\d+)?$/.test(secondsText.trim()) ? Number(secondsText) : undefined;
  if (code !== undefined || seconds !== undefined) {
    return {
      kind: 'exits',
      runMs: Math.round((seconds ?? defaultRunSeconds) * 1000),
      exitCode: code ?? 0,
      output: [],
    };
  }
  return interpret([...c.command, ...c.args]);
}
