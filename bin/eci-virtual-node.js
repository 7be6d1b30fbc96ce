#!/usr/bin/env node
// Entry point. Node 24 runs the TypeScript sources directly by type stripping, so there is no build
// step. When started by an older system Node, hand over to the Node 24 that `npm ci` installed from
// the pinned `node` devDependency, so `./bin/eci-virtual-node.js` works from any shell.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(pinned)) {
    process.stderr.write(
      `eci-virtual-node needs Node.js 24 or later (this is ${process.version}); run \`npm ci\` in the project to install it\n`,
    );
    process.exit(1);
  }
  const child = spawn(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
} else {
  await import('../src/cli/main.ts');
}
