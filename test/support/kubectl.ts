import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The real kubectl the machine has (override with $KUBECTL), against the test cluster. */
export function kubectlFor(kubeconfig: string) {
  const bin = process.env.KUBECTL ?? 'kubectl';
  const kubectl = async (...args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(bin, ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 64 << 20 });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  };
  const json = async <T = Record<string, unknown>>(...args: string[]): Promise<T> =>
    JSON.parse(await kubectl(...args, '-o', 'json')) as T;
  return { kubectl, json };
}

export function testKubeconfig(): string {
  const k = process.env.ECI_VN_TEST_KUBECONFIG;
  if (!k)
    throw new Error(
      'ECI_VN_TEST_KUBECONFIG is not set: run the suite with `npm test`, which starts the test cluster',
    );
  return k;
}
