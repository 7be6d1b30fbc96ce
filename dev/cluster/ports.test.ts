import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { ErrorCodes, hasCode } from '../../src/util/errors.ts';
import { assertPortFree, isPortFree, pickFreePorts } from './ports.ts';

describe('ports', () => {
  it('picks distinct free ports', async () => {
    const ports = await pickFreePorts(5);
    assert.equal(new Set(ports).size, 5);
    for (const p of ports) assert.equal(await isPortFree(p), true);
  });

  it('reports a taken port as PORT_IN_USE', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      assert.equal(await isPortFree(port), false);
      await assert.rejects(assertPortFree(port, 'kube-apiserver'), (e) => hasCode(e, ErrorCodes.PORT_IN_USE));
    } finally {
      server.close();
    }
  });
});
