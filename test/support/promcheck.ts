// Prometheus's own text parser and linter (tools/promcheck: expfmt + promlint, what `promtool check
// metrics` runs), built from Go modules once per source version into ~/.cache/eci-virtual-node.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const src = fileURLToPath(new URL('../../tools/promcheck', import.meta.url));

export interface PromFamily {
  name: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  help: string;
  metrics: {
    labels: Record<string, string>;
    value?: number;
    count?: number;
    sum?: number;
    buckets?: Record<string, number>;
  }[];
}

async function binary(): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(await readFile(path.join(src, f)));
  const cache = process.env.ECI_VN_CACHE || path.join(os.homedir(), '.cache', 'eci-virtual-node');
  const bin = path.join(cache, 'promcheck', hash.digest('hex').slice(0, 16), 'promcheck');
  try {
    await access(bin);
    return bin;
  } catch {
    process.stderr.write(`[promcheck build] go build tools/promcheck → ${bin}\n`);
    await run('go', ['build', '-o', bin, '.'], {
      cwd: src,
      env: {
        ...process.env,
        GOMODCACHE: path.join(cache, 'go', 'mod'),
        GOCACHE: path.join(cache, 'go', 'build'),
        GOFLAGS: '-mod=mod',
        GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local',
        CGO_ENABLED: '0',
      },
    });
    return bin;
  }
}

/** Parses a scrape with Prometheus's parser; `problems` are promlint's findings. */
export async function promcheck(
  text: string,
): Promise<{ families: PromFamily[]; problems: { metric: string; text: string }[] }> {
  const bin = await binary();
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err.trim() || `promcheck exited ${code}`)),
    );
    p.stdin.end(text);
  });
}
