import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { registerCleanupCommand } from './cleanup.ts';
import { registerClusterCommand } from './cluster.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerEmulatorCommand } from './emulator.ts';
import { registerRunCommand } from './run.ts';
import { describeError, ProductError } from '../util/errors.ts';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('eci-virtual-node')
  .description(
    'A virtual node that runs Kubernetes pods on Alibaba Cloud Elastic Container Instance (ECI).\n' +
      'Without an AccessKey it runs against the embedded ECI emulator.',
  )
  .version(pkg.version)
  .showHelpAfterError()
  .exitOverride();

registerRunCommand(program);
registerClusterCommand(program);
registerEmulatorCommand(program);
registerDemoCommand(program);
registerCleanupCommand(program);
registerDoctorCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const code = err instanceof ProductError ? ` [${err.code}]` : '';
    process.stderr.write(`eci-virtual-node: error${code}: ${describeError(err)}\n`);
    process.exitCode = 1;
  }
}
