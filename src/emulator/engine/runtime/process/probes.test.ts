import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { initialState, nextState, probeOnce } from './probes.ts';

describe('probes', () => {
  it('flip after their thresholds, readiness starting failed and liveness passing', () => {
    const p = { successThreshold: 2, failureThreshold: 3 };
    let s = initialState('readiness');
    assert.equal(s.ok, false);
    const seen: boolean[] = [];
    for (const ok of [true, true, false, false, false, true]) {
      const r = nextState(s, ok, p);
      s = r.state;
      seen.push(s.ok);
    }
    assert.deepEqual(seen, [false, true, true, true, false, false]);
    assert.equal(initialState('liveness').ok, true);
  });

  it('httpGet passes on 2xx/3xx, fails on the rest and on refused connections; tcpSocket on connect', async () => {
    const server = http.createServer((req, res) => res.writeHead(req.url === '/ok' ? 204 : 500).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const target = { ip: '127.0.0.1', exec: async () => 0 };
    try {
      assert.equal(await probeOnce({ httpGet: { port, path: '/ok' } }, target), null);
      assert.match((await probeOnce({ httpGet: { port, path: '/bad' } }, target)) ?? '', /statuscode: 500/);
      assert.equal(await probeOnce({ tcpSocket: { port } }, target), null);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    assert.match((await probeOnce({ tcpSocket: { port: free } }, target)) ?? '', /ECONNREFUSED/);
    assert.match((await probeOnce({ httpGet: { port: free } }, target)) ?? '', /ECONNREFUSED/);
  });

  it('exec passes on exit code 0 only', async () => {
    const codes = [0, 2];
    const target = { ip: '127.0.0.1', exec: async () => codes.shift()! };
    assert.equal(await probeOnce({ exec: ['check'] }, target), null);
    assert.match((await probeOnce({ exec: ['check'] }, target)) ?? '', /exited with 2/);
  });
});
