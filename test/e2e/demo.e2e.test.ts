import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { instanceFor } from '../../src/emulator/engine/runtime/process/instance.ts';
import { leftovers, processRuntimeSkip } from '../support/process-runtime.ts';
import { processSupport } from '../../src/emulator/engine/runtime/select.ts';
import { testClusterName } from '../support/cluster-name.ts';

/**
 * `eci-virtual-node demo`, as the README's Quick start runs it: a control plane of its own (named for
 * this test run, so it runs beside other checkouts' demos), the virtual node on the embedded emulator,
 * and the install guide's commands — with the process runtime, a real nginx page from the pod IP.
 */

const BIN = fileURLToPath(new URL('../../bin/eci-virtual-node.js', import.meta.url));
const support = await processSupport();

describe('the demo', { timeout: 900_000 }, () => {
  test(
    'runs on the process runtime and shows a real nginx page fetched from its pod IP, leaving nothing behind',
    { skip: processRuntimeSkip(support) },
    async () => {
      const name = testClusterName('demo');
      const env = { ...process.env };
      delete env.KUBECONFIG;
      const child = spawn(process.execPath, [BIN, 'demo', '--cluster-name', name], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 0, out);
      const page = /\$ curl http:\/\/(\d+\.\d+\.\d+\.\d+)\/\nHTTP 200 OK\n([\s\S]*?<\/html>)/.exec(out);
      assert.ok(page, `the demo shows the page it fetched:\n${out}`);
      assert.match(page[2]!, /<title>Welcome to nginx!<\/title>/);
      // The pod IP it fetched from is the one kubectl showed for the nginx pod.
      assert.match(
        out,
        new RegExp(`nginx\\s+1/1\\s+Running\\s+\\d+\\s+\\S+\\s+${page[1]!.replace(/\./g, '\\.')}\\s`),
      );
      assert.match(out, /done: both pods ran as ECI container groups/);
      if (process.env.ECI_VN_SHOW_DEMO === '1') process.stdout.write(out);
      const stateDir = path.join(
        os.homedir(),
        '.local',
        'state',
        'eci-virtual-node',
        `demo-emulator-${name}`,
      );
      const { instance, runtimeDir } = await instanceFor(stateDir);
      assert.deepEqual(await leftovers(instance, runtimeDir), {
        processes: [],
        links: [],
        mounts: [],
        cgroups: [],
        namespaces: [],
      });
      await rm(stateDir, { recursive: true, force: true });
    },
  );
});
