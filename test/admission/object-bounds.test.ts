/** The object bounds at their edges: bytes as Kubernetes counts them, counts, nesting. */
import t from 'tap';
import {
  MAX_ANNOTATION_BYTES,
  MAX_ANNOTATIONS,
  MAX_LABELS,
  MAX_NESTING,
  objectBoundsProblem,
} from '../../src/admission/object-bounds.ts';

const secret = (metadata: object, extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata,
  ...extra,
});

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

t.test('annotations: UTF-8 bytes of keys and values, as Kubernetes counts them', async (t) => {
  const exactly = 'x'.repeat(MAX_ANNOTATION_BYTES - 1);
  t.equal(objectBoundsProblem(secret({ annotations: { a: exactly } })), undefined, 'exactly 256 KiB');
  t.match(
    objectBoundsProblem(secret({ annotations: { a: `${exactly}x` } })),
    /Too long: must have at most 262144 bytes/,
  );
  // 100,000 "€" are 100,000 UTF-16 units but 300,000 bytes.
  t.match(objectBoundsProblem(secret({ annotations: { a: '€'.repeat(100_000) } })), /Too long/);
  t.equal(
    objectBoundsProblem(secret({ annotations: { a: '€'.repeat(80_000) } })),
    undefined,
    '240,001 bytes',
  );
  const many = Object.fromEntries(Array.from({ length: MAX_ANNOTATIONS }, (_, i) => [`k${i}`, '']));
  t.equal(objectBoundsProblem(secret({ annotations: many })), undefined, `${MAX_ANNOTATIONS} annotations`);
  t.match(
    objectBoundsProblem(secret({ annotations: { ...many, one: 'more' } })),
    /more than 1024 annotations/,
  );
  t.match(objectBoundsProblem(secret({ annotations: ['a'] })), /must be a map of strings/);
  t.match(
    objectBoundsProblem(secret({ annotations: { n: 1 } })),
    /metadata\.annotations\["n"\] must be a string/,
  );
  t.equal(objectBoundsProblem(secret({ annotations: null })), undefined, 'null is no annotations');
});

t.test('labels: count, value length, strings', async (t) => {
  const many = Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`k${i}`, 'v']));
  t.equal(objectBoundsProblem(secret({ labels: many })), undefined);
  t.match(objectBoundsProblem(secret({ labels: { ...many, x: 'y' } })), /more than 256 labels/);
  t.equal(objectBoundsProblem(secret({ labels: { a: 'v'.repeat(63) } })), undefined);
  t.match(objectBoundsProblem(secret({ labels: { a: 'v'.repeat(64) } })), /no more than 63 characters/);
  t.match(objectBoundsProblem(secret({ labels: { a: true } })), /must be a string/);
});

t.test('nesting: the object at most 64 levels deep', async (t) => {
  // The object itself is level 0; `extra` is level 1, its innermost object level 64.
  t.equal(objectBoundsProblem(secret({}, { extra: nested(MAX_NESTING) })), undefined, '64 levels');
  t.match(
    objectBoundsProblem(secret({}, { extra: nested(MAX_NESTING + 1) })),
    /nested deeper than 64 levels/,
  );
  let deepArray: unknown = [];
  for (let i = 0; i < 200_000; i++) deepArray = [deepArray];
  t.match(objectBoundsProblem(secret({}, { extra: deepArray })), /nested deeper/, 'no stack overflow');
  t.equal(objectBoundsProblem(null), undefined);
  t.equal(objectBoundsProblem('text'), undefined);
});
