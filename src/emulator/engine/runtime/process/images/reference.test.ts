import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseImageRef } from './reference.ts';

describe('parseImageRef', () => {
  const cases: [string, ReturnType<typeof parseImageRef>][] = [
    ['nginx', { path: 'nginx', name: 'nginx' }],
    ['nginx:1.27', { path: 'nginx', name: 'nginx', tag: '1.27' }],
    [
      'docker.io/library/nginx:1.27',
      { registry: 'docker.io', path: 'library/nginx', name: 'nginx', tag: '1.27' },
    ],
    [
      'registry-vpc.cn-hangzhou.aliyuncs.com/x/nginx',
      { registry: 'registry-vpc.cn-hangzhou.aliyuncs.com', path: 'x/nginx', name: 'nginx' },
    ],
    ['localhost:5000/team/app:v2', { registry: 'localhost:5000', path: 'team/app', name: 'app', tag: 'v2' }],
    ['library/busybox', { path: 'library/busybox', name: 'busybox' }],
    [
      `busybox@sha256:${'a'.repeat(64)}`,
      { path: 'busybox', name: 'busybox', digest: `sha256:${'a'.repeat(64)}` },
    ],
    ['', null],
    ['Nginx', null],
    ['nginx:', null],
    ['nginx@sha256:zz', null],
    ['a//b', null],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)}`, () => assert.deepEqual(parseImageRef(text), want));
  }
});
