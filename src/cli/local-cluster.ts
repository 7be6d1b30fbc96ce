// The local control plane (dev/cluster) is a development harness: it lives beside the sources, not in
// the product's image, and only `cluster` and `demo` use it. So those commands load it when they run,
// and everything else (help, `--version`, `run` in the image) works without it.
import { ErrorCodes, ProductError } from '../util/errors.ts';

export const localControlPlane = () => fromSourceCheckout(() => import('../../dev/cluster/controlplane.ts'));

export const localPrerequisites = () =>
  fromSourceCheckout(() => import('../../dev/cluster/prerequisites.ts'));

async function fromSourceCheckout<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes('/dev/cluster/')) {
      throw new ProductError(
        ErrorCodes.NOT_FOUND,
        'the local control plane (dev/cluster) comes with the source checkout, not with this installation: ' +
          'run `cluster` and `demo` from a clone of the repository (npm ci && npx eci-virtual-node demo)',
        { cause: err },
      );
    }
    throw err;
  }
}
