// The README's `run` flags table and its environment variables table are the product's reference: this
// keeps them equal to `run --help`, to the defaults and variable names the code applies
// (src/app/run-config.ts), and to every variable the code reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RUN_DEFAULTS, RUN_ENV } from '../src/app/run-config.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

/** The rows of the first Markdown table after `heading`, as arrays of trimmed cells. */
function table(markdown: string, heading: string): string[][] {
  const at = markdown.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has a section "${heading}"`);
  const lines = markdown.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(
      l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** `--a` / `--b` / `-c` → ['--a', '--b', '--a-c'] (a shortened suffix continues the first flag's stem). */
function names(cell: string): string[] {
  const out: string[] = [];
  for (const m of cell.matchAll(/`(-{1,2}[a-z0-9-]+)`/g)) {
    const f = m[1]!;
    if (f.startsWith('--')) out.push(f);
    else out.push(out[0]!.replace(/-[a-z]+-[a-z]+$/, '') + f);
  }
  return out;
}

/** The whitespace-normalised description of `flag` in commander's help output. */
function helpText(help: string, flag: string): string {
  const at = help.search(new RegExp(`^\\s+${flag}[ ,]`, 'm'));
  const rest = help.slice(at).split('\n');
  const end = rest.slice(1).findIndex((l) => /^\s+-/.test(l));
  return rest
    .slice(0, end < 0 ? undefined : end + 1)
    .join(' ')
    .replace(/\s+/g, ' ');
}

const camel = (flag: string) => flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

test('the README `run` flags table lists exactly the flags of `run --help`, with their env and defaults', async () => {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const { stdout: help } = await run(process.execPath, [
    path.join(root, 'bin/eci-virtual-node.js'),
    'run',
    '--help',
  ]);
  const helpFlags = new Set([...help.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]!));
  helpFlags.delete('--help');
  const rows = table(readme, '### `run` flags');
  const documented = new Set(rows.flatMap((r) => names(r[0]!)));
  assert.deepEqual([...documented].sort(), [...helpFlags].sort(), 'README flags = run --help flags');

  for (const [cell, envCell, defaultCell] of rows) {
    const flags = names(cell!);
    const envs = [...envCell!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]);
    const defaults = defaultCell!.split(' / ').map((d) => /^`([^`]+)`$/.exec(d.trim())?.[1]);
    flags.forEach((flag, i) => {
      const key = camel(flag) as keyof typeof RUN_DEFAULTS & keyof typeof RUN_ENV;
      const env = (RUN_ENV as Record<string, string>)[key];
      if (envs.length)
        assert.equal(env, envs[i] ?? envs[0], `${flag}: the env column names what the code reads`);
      else assert.equal(env, undefined, `${flag}: the code reads ${env}, the README does not say so`);
      const code = (RUN_DEFAULTS as Record<string, string>)[key];
      const readmeDefault = defaults.length === flags.length ? defaults[i] : defaults[0];
      if (code !== undefined && readmeDefault !== undefined) {
        assert.equal(readmeDefault, code, `${flag}: the README default is the one the code applies`);
      }
      // --help says the same default.
      if (code !== undefined) {
        assert.ok(helpText(help, flag).includes(`default ${code}`), `${flag}: --help says default ${code}`);
      }
    });
  }
});

test('the README environment table lists every variable the code reads, and no other', async () => {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const documented = new Set(
    table(readme, '### Environment variables').flatMap((r) =>
      [...r[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!),
    ),
  );
  const read = new Set<string>(Object.values(RUN_ENV));
  for (const dir of ['src', 'dev', 'bin']) {
    for (const e of await readdir(path.join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !/\.(ts|js)$/.test(e.name) || e.name.endsWith('.test.ts')) continue;
      const text = await readFile(path.join(e.parentPath, e.name), 'utf8');
      for (const m of text.matchAll(/\benv(?:\.|\[['"])([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
      // src/config validates variables by schema key (`ECI_REGION: z.string()`) and names them in strings.
      if (/^src[/\\]config[/\\]/.test(path.relative(root, path.join(e.parentPath, e.name)))) {
        for (const m of text.matchAll(/\b(ECI_[A-Z0-9_]+)\s*:|['"]((?:ECI|ALIBABA_CLOUD)_[A-Z0-9_]+)['"]/g)) {
          read.add((m[1] ?? m[2])!);
        }
      }
    }
  }
  // The shell's own.
  for (const v of ['PATH', 'HOME']) read.delete(v);
  assert.deepEqual([...documented].sort(), [...read].sort(), 'README variables = variables the code reads');
});
