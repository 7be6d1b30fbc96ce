import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { FakeClock } from '../../test/support/fake-clock.ts';
import {
  KubeletAuth,
  subresourcesFor,
  verbFor,
  type AuthBackend,
  type NodeAccess,
  type UserInfo,
} from './auth.ts';

/** A request as node:http hands it over, from a plain (non-TLS) socket: no client certificate. */
function req(method: string, url: string, token?: string): IncomingMessage {
  return {
    method,
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    socket: {},
  } as unknown as IncomingMessage;
}

class Backend implements AuthBackend {
  reviews = 0;
  accesses: NodeAccess[] = [];
  /** token → user; user → allowed "verb subresource" */
  readonly users: Record<string, UserInfo>;
  readonly grants: Record<string, string[]>;
  constructor(users: Record<string, UserInfo>, grants: Record<string, string[]>) {
    this.users = users;
    this.grants = grants;
  }
  async reviewToken(token: string) {
    this.reviews++;
    if (token === 'explode') throw new Error('TokenReview unavailable');
    return this.users[token];
  }
  async review(user: UserInfo, access: NodeAccess) {
    this.accesses.push(access);
    if (user.name === 'unlucky') throw new Error('SubjectAccessReview unavailable');
    return (this.grants[user.name] ?? []).includes(`${access.verb} ${access.subresource}`);
  }
}

const alice: UserInfo = { name: 'alice', groups: ['system:authenticated'] };
const logger: UserInfo = { name: 'log-only', groups: [] };

const setup = () => {
  const clock = new FakeClock(0);
  const backend = new Backend(
    { 'alice-token': alice, 'log-token': logger, 'unlucky-token': { name: 'unlucky', groups: [] } },
    { alice: ['get proxy', 'create proxy', 'get stats'], 'log-only': ['get log', 'create log'] },
  );
  return { clock, backend, auth: new KubeletAuth({ backend, clock }) };
};

const paths: [string, string[]][] = [
  ['/stats/summary', ['stats']],
  ['/metrics/resource', ['metrics']],
  ['/logs/messages', ['log']],
  ['/containerLogs/ns/p/c', ['proxy']],
  ['/exec/ns/p/c', ['proxy']],
  ['/attach/ns/p/c', ['proxy']],
  ['/portForward/ns/p', ['proxy']],
  ['/pods', ['pods', 'proxy']],
  ['/healthz', ['healthz', 'proxy']],
];
for (const [path, want] of paths)
  test(`${path} is authorised as nodes/${want.join(' then nodes/')}`, () =>
    assert.deepEqual(subresourcesFor(path), want));

test('verbs from methods', () => {
  assert.deepEqual(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'].map(verbFor), [
    'get',
    'create',
    'update',
    'patch',
    'delete',
    'get',
  ]);
});

test('no credentials and an unknown token are 401', async () => {
  const { auth } = setup();
  assert.deepEqual(await auth.check(req('GET', '/pods')), {
    ok: false,
    status: 401,
    message: 'Unauthorized',
  });
  assert.equal((await auth.check(req('GET', '/pods', 'who-knows'))).ok, false);
  assert.equal(((await auth.check(req('GET', '/pods', 'who-knows'))) as { status: number }).status, 401);
});

test('a TokenReview that fails is 401, never a pass', async () => {
  const { auth } = setup();
  assert.deepEqual(await auth.check(req('GET', '/pods', 'explode')), {
    ok: false,
    status: 401,
    message: 'Unauthorized',
  });
});

test('a user allowed nodes/log only may not exec: 403 naming the subresource', async () => {
  const { auth } = setup();
  const r = await auth.check(req('POST', '/exec/ns/p/c?command=sh', 'log-token'));
  assert.equal(r.ok, false);
  assert.equal((r as { status: number }).status, 403);
  assert.match(
    (r as { message: string }).message,
    /Forbidden \(user=log-only, verb=create, resource=nodes, subresource\(s\)=\[proxy\]\)/,
  );
  assert.equal((await auth.check(req('GET', '/logs/', 'log-token'))).ok, true);
});

test('the first subresource that is allowed wins (/pods falls back to proxy)', async () => {
  const { auth } = setup();
  const r = await auth.check(req('GET', '/pods', 'alice-token'));
  assert.equal(r.ok, true);
  assert.deepEqual(r.ok && r.access, { verb: 'get', subresource: 'proxy' });
});

test('an authorizer that cannot be asked is 500, not a pass', async () => {
  const { auth } = setup();
  const r = await auth.check(req('GET', '/stats/summary', 'unlucky-token'));
  assert.equal((r as { status: number }).status, 500);
});

test('answers are cached: tokens for 2 min, allowed for 5 min, denied for 30 s', async () => {
  const { auth, backend, clock } = setup();
  await auth.check(req('GET', '/stats/summary', 'alice-token'));
  await auth.check(req('POST', '/exec/ns/p/c', 'log-token'));
  const reviews = backend.reviews;
  const accesses = backend.accesses.length;
  await clock.advance(20_000);
  await auth.check(req('GET', '/stats/summary', 'alice-token'));
  await auth.check(req('POST', '/exec/ns/p/c', 'log-token'));
  assert.equal(backend.reviews, reviews, 'tokens cached');
  assert.equal(backend.accesses.length, accesses, 'both decisions cached');
  await clock.advance(20_000);
  await auth.check(req('POST', '/exec/ns/p/c', 'log-token'));
  assert.equal(backend.accesses.length, accesses + 1, 'the denial expired after 30 s');
  await auth.check(req('GET', '/stats/summary', 'alice-token'));
  assert.equal(backend.accesses.length, accesses + 1, 'the allowance did not');
  await clock.advance(100_000);
  await auth.check(req('GET', '/stats/summary', 'alice-token'));
  assert.ok(backend.reviews > reviews, 'the token is reviewed again after 2 min');
});
