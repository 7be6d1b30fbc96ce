import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import type { Env } from '../app/run-config.ts';
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

/**
 * Each subcommand's module, loaded on demand: a long-running `run` or `emulator` process then holds
 * only its own code (the emulator, the local control plane and the webhook's X.509 library cost tens
 * of MiB of resident memory each). Help, version and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<(p: Command, env: Env) => void>> = {
  run: async () => (await import('./run.ts')).registerRunCommand,
  cluster: async () => (await import('./cluster.ts')).registerClusterCommand,
  emulator: async () => (await import('./emulator.ts')).registerEmulatorCommand,
  demo: async () => (await import('./demo.ts')).registerDemoCommand,
  cleanup: async () => (await import('./cleanup.ts')).registerCleanupCommand,
  doctor: async () => (await import('./doctor.ts')).registerDoctorCommand,
  template: async () => (await import('./template.ts')).registerTemplateCommand,
};
const wanted = process.argv[2] !== undefined ? COMMANDS[process.argv[2]] : undefined;
// The one place the process environment is read; commands get it as a value.
const env: Env = process.env;
for (const load of wanted ? [wanted] : Object.values(COMMANDS)) (await load())(program, env);

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
