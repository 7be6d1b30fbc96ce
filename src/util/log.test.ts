import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, parseLogFormat } from './log.ts';
import { hasCode, ErrorCodes } from './errors.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

test('JSON records carry the level as a word and the time as ISO 8601', () => {
  const { lines, stream } = capture();
  const log = createLogger({ format: 'json', destination: stream, level: 'debug' });
  log.info({ pod: 'ns/a' }, 'created');
  log.debug('detail');
  const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(a?.level, 'info');
  assert.equal(b?.level, 'debug');
  assert.match(String(a?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(a?.msg, 'created');
  assert.equal(a?.pod, 'ns/a');
});

test('secrets are redacted whatever the format', () => {
  const { lines, stream } = capture();
  createLogger({ destination: stream }).info({ accessKeySecret: 'hunter2', creds: { securityToken: 't0k' } });
  assert.doesNotMatch(lines.join('\n'), /hunter2|t0k/);
});

test('the mixin adds fields (the trace id) to every record', () => {
  const { lines, stream } = capture();
  createLogger({ destination: stream, mixin: () => ({ trace_id: 'abc' }) }).warn('x');
  assert.equal((JSON.parse(lines[0]!) as { trace_id: string }).trace_id, 'abc');
});

test('--log-format accepts json and text, and names the flag otherwise', () => {
  assert.equal(parseLogFormat('TEXT'), 'text');
  assert.equal(parseLogFormat(undefined), 'json');
  assert.throws(
    () => parseLogFormat('yaml'),
    (err: unknown) =>
      hasCode(err, ErrorCodes.CONFIG_INVALID) && /--log-format: must be one of json, text/.test(String(err)),
  );
});
