import { createServer, type Server } from 'node:net';
import { ErrorCodes, ProductError } from '../../src/util/errors.ts';

const HOST = '127.0.0.1';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: HOST, port, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** True when nothing listens on 127.0.0.1:`port` (nor on the wildcard address, which covers it). */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw err;
  }
}

export async function assertPortFree(port: number, what: string): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new ProductError(
      ErrorCodes.PORT_IN_USE,
      `port ${port} for ${what} is already in use on ${HOST}; stop what listens there (\`ss -ltnp 'sport = :${port}'\`) or choose another port`,
    );
  }
}

/**
 * `count` distinct free ports. All are held open until every one is chosen, so the kernel cannot hand
 * out the same port twice; another program may still take one before our process binds it, which the
 * caller sees as a start failure.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0));
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('listening socket has no port');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}
