import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes, hasCode } from '../util/errors.ts';
import { ReviewParser } from './review-parser.ts';

function review(filler: number, namespace = 'ns1') {
  return Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace,
        operation: 'CREATE',
        object: {
          metadata: { name: 'p', labels: { a: 'b' } },
          spec: {
            nodeSelector: { x: 'y' },
            containers: Array.from({ length: filler }, (_, i) => ({
              name: `c${i}`,
              image: 'nginx',
              env: [{ name: 'A', value: 'v'.repeat(1000) }],
            })),
          },
        },
      },
    }),
  );
}

describe('ReviewParser', () => {
  test('small and large reviews parse to the same decision input; containers do not cross over', async () => {
    const p = new ReviewParser();
    try {
      const small = await p.parse(review(1));
      const large = await p.parse(review(2000));
      assert.deepEqual(small.object, {
        metadata: { name: 'p', labels: { a: 'b' } },
        spec: { nodeSelector: { x: 'y' } },
      });
      assert.deepEqual(large.object, small.object);
      assert.equal(large.namespace, 'ns1');
    } finally {
      await p.close();
    }
  });

  test('a large review is parsed on another thread, a small one in place', async () => {
    // Counting JSON.parse calls on this thread tells where the parse ran, without timing anything.
    const original = JSON.parse;
    let calls = 0;
    JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
      calls++;
      return original(text, reviver);
    }) as typeof JSON.parse;
    const p = new ReviewParser();
    try {
      await p.parse(review(2500)); // ~2.6 MiB
      assert.equal(calls, 0, 'the large review was not parsed on the event loop');
      await p.parse(review(1));
      assert.equal(calls, 1, 'the small one was');
    } finally {
      JSON.parse = original;
      await p.close();
    }
  });

  test('malformed bodies are EVN_INVALID_INPUT, in place and in the worker', async () => {
    const p = new ReviewParser({ inlineBelowBytes: 10 });
    try {
      await assert.rejects(p.parse(Buffer.from('{"apiVersion": 1')), (e: Error) =>
        hasCode(e, ErrorCodes.INVALID_INPUT),
      );
      await assert.rejects(
        p.parse(Buffer.from('{"apiVersion":"v1"}')),
        (e: Error) => hasCode(e, ErrorCodes.INVALID_INPUT) && /apiVersion/.test(e.message),
      );
    } finally {
      await p.close();
    }
  });

  test('past maxQueued waiting bodies, parse refuses at once (EVN_BUSY) instead of queueing', async () => {
    const p = new ReviewParser({ inlineBelowBytes: 0, maxQueued: 2 });
    try {
      const body = review(500);
      const results = await Promise.allSettled([p.parse(body), p.parse(body), p.parse(body)]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected'],
      );
      assert.ok(hasCode((results[2] as PromiseRejectedResult).reason, ErrorCodes.BUSY));
    } finally {
      await p.close();
    }
  });
});
