/**
 * The error-text reducer: whatever a parser, the API server, an SDK or Node throws, what comes out
 * is our words with a code and a position or field, never the thrown text — checked with a canary
 * planted where each source quotes its input.
 */
import { randomUUID } from 'node:crypto';
import { ApiException } from '@kubernetes/client-node';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { EswError, errorMessage } from '../../src/errors.ts';
import { createLogger } from '../../src/observability/logger.ts';
import {
  describeError,
  errorFrames,
  errorName,
  jsonErrorText,
  knownCode,
  kubeStatusText,
  parseErrorText,
  safeFieldPath,
  systemCode,
  yamlErrorText,
} from '../../src/observability/sanitize.ts';
import { ProviderError } from '../../src/providers/types.ts';

const CANARY = `CANARY${randomUUID().replaceAll('-', '')}`;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err: unknown) {
    return err;
  }
  throw new Error('did not throw');
}

t.test('the project’s own errors keep their message', async (t) => {
  t.equal(
    describeError(new EswError('ESW_VALIDATION', 'spec.data[0]: Required value')),
    'spec.data[0]: Required value',
  );
  t.equal(
    describeError(new ProviderError('NotFound', 'aws: secret "db": ResourceNotFoundException')),
    'aws: secret "db": ResourceNotFoundException',
  );
  t.equal(errorMessage(new EswError('ESW_KUBE', 'x')), 'x', 'errorMessage is the reducer');
});

t.test('YAML errors: code and position, never the text around them', async (t) => {
  for (const text of [`a: @${CANARY}`, `a: x: ${CANARY}`, `a: "${CANARY}\n`, `{a: 1, a: ${CANARY}}`]) {
    const err = thrown(() => parseYaml(text, { logLevel: 'error' }));
    t.match((err as Error).message, CANARY, 'the library quotes the text');
    const ours = describeError(err);
    t.notMatch(ours, CANARY);
    t.match(ours, /^not valid YAML at line \d+, column \d+ \([A-Z_]+\)$/);
    t.equal(yamlErrorText(err), ours);
  }
  t.equal(
    parseErrorText(thrown(() => parseYaml('a: @x'))),
    'not valid YAML at line 1, column 4 (BAD_SCALAR_START)',
  );
  // An unknown alias is a ReferenceError naming it.
  const alias = thrown(() => parseYaml(`a: *${CANARY}`));
  t.match((alias as Error).message, CANARY);
  t.equal(parseErrorText(alias), 'could not be parsed (ReferenceError)');
  t.equal(parseErrorText(new RangeError('Maximum call stack size exceeded')), 'nested too deeply');
});

t.test('JSON errors: the offset, never the quoted text', async (t) => {
  const quoted = thrown(() => JSON.parse(`{"a": ${CANARY}}`));
  t.match((quoted as Error).message, CANARY.slice(0, 10), 'V8 quotes the text');
  t.equal(describeError(quoted), 'not valid JSON');
  t.equal(jsonErrorText(thrown(() => JSON.parse('{"a": 1'))), 'not valid JSON at offset 7');
  t.equal(jsonErrorText(new TypeError('x')), undefined);
});

t.test('API server answers: code, reason and field paths, never Status.message', async (t) => {
  const status = {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message: `Secret "t" is invalid: metadata.labels: Invalid value: "${CANARY} x": a valid label must be…`,
    reason: 'Invalid',
    details: {
      name: 't',
      kind: 'secrets',
      causes: [
        { reason: 'FieldValueInvalid', message: `Invalid value: "${CANARY} x"`, field: 'metadata.labels' },
        { reason: 'FieldValueInvalid', message: 'x', field: `data[${CANARY}]` },
        { reason: 'FieldValueInvalid', message: 'x', field: 'spec.data[0].remoteRef' },
        { reason: 'FieldValueInvalid', message: 'x', field: `${CANARY} not a path` },
      ],
    },
    code: 422,
  };
  const expected = '422 Invalid (field metadata.labels, data[…], spec.data[0].remoteRef)';
  t.equal(kubeStatusText(422, status), expected);
  t.equal(kubeStatusText(422, JSON.stringify(status)), expected, 'a body still as text');
  const exception = new ApiException(422, 'Unprocessable Entity', status, {
    'content-type': 'application/json',
  });
  t.match(exception.message, CANARY, 'client-node puts the whole body in its message');
  t.equal(describeError(exception), `API server answered ${expected}`);
  t.equal(kubeStatusText(500, 'not json'), '500');
  t.equal(kubeStatusText(409, { kind: 'Status', reason: CANARY }), '409', 'unknown reasons are dropped');
  t.equal(safeFieldPath('metadata.annotations'), 'metadata.annotations');
  t.equal(safeFieldPath(`metadata.labels[${CANARY}]`), 'metadata.labels[…]');
  t.equal(safeFieldPath('items[3].name'), 'items[3].name');
  t.equal(safeFieldPath(`a b ${CANARY}`), undefined);
  t.equal(safeFieldPath(42), undefined);
});

t.test('SDK and runtime errors: class and Node codes only', async (t) => {
  const sys = Object.assign(new Error(`connect ECONNREFUSED ${CANARY}`), { code: 'ECONNREFUSED' });
  t.equal(describeError(sys), 'connection failed (ECONNREFUSED)');
  t.equal(systemCode(Object.assign(new Error('x'), { code: CANARY })), undefined, 'a code from a body');
  t.equal(
    systemCode(Object.assign(new Error('x'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })),
    'ERR_TLS_CERT_ALTNAME_INVALID',
  );
  t.equal(
    systemCode(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })),
    'DEPTH_ZERO_SELF_SIGNED_CERT',
  );
  const sdk = Object.assign(new Error(CANARY), { name: `${CANARY}Exception` });
  t.equal(errorName(sdk), 'Error', 'a name copied from a response body is not reported');
  t.equal(describeError(sdk), 'unexpected failure (Error)');
  t.equal(errorName(new TypeError(CANARY)), 'TypeError');
  t.equal(describeError(new TypeError(`Cannot read ${CANARY}`)), 'unexpected failure (TypeError)');
  t.equal(describeError(Object.assign(new Error(CANARY), { name: 'AbortError' })), 'aborted');
  t.equal(describeError(Object.assign(new Error(CANARY), { name: 'TimeoutError' })), 'timed out');
  t.equal(describeError(CANARY), 'unexpected failure (string thrown)');
  t.equal(
    describeError(new RangeError('Maximum call stack size exceeded')),
    'nested too deeply (call stack exhausted)',
  );
  t.equal(knownCode('SecretNotFound', new Set(['SecretNotFound'])), 'SecretNotFound');
  t.equal(knownCode(CANARY, new Set(['SecretNotFound'])), undefined);
});

t.test('stack frames without the message, even a multi-line one', async (t) => {
  const err = new Error(`first line\n    at ${CANARY} (a line of the input)\nlast`);
  const frames = errorFrames(err);
  t.notMatch(frames, CANARY);
  t.match(frames, /^at /);
  t.ok(frames.split('\n').length >= 1 && frames.split('\n').length <= 5);
  t.equal(errorFrames('text'), '');
});

t.test('an error object logged as it is comes out reduced', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  logger.warn({ err: new Error(`boom ${CANARY}`) }, 'failed');
  logger.warn({ error: thrown(() => JSON.parse(`{${CANARY}`)) }, 'failed');
  logger.warn({ err: 'already our words' }, 'failed');
  t.equal(lines.length, 3);
  t.notMatch(lines.join('\n'), CANARY);
  t.match(JSON.parse(lines[0] ?? '{}'), { err: 'unexpected failure (Error)' });
  t.match(JSON.parse(lines[1] ?? '{}'), { error: 'not valid JSON' });
  t.match(JSON.parse(lines[2] ?? '{}'), { err: 'already our words' });
});
