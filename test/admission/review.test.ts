/**
 * The answer's text: `reviewResponseJson` writes exactly what serialising the AdmissionReview
 * object would (so the API server reads the same answer), for a result kept by a memo (its JSON
 * written once, the uid spliced in) as for any other; a kept result cannot be changed.
 */
import t from 'tap';
import { keepResult, resultJson, reviewResponse, reviewResponseJson } from '../../src/admission/review.ts';
import { type AdmissionResult, allow, deny, denyInvalid } from '../../src/admission/types.ts';
import { fieldErrors } from '../../src/api/field-errors.ts';

const results = (): AdmissionResult[] => [
  allow(),
  allow(['a warning', 'with "quotes" and \\ and \u2028 and é']),
  deny(403, 'refused: "x" </script>'),
  denyInvalid({ kind: 'ExternalSecret', group: 'external-secrets.io', name: 'es' }, [
    fieldErrors.required('spec.data[0].secretKey'),
  ]),
  { allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[]').toString('base64'), warnings: ['w'] },
  {} as AdmissionResult,
];
const uids = ['705ab4f5-6393-11e8-b7cc-42010a800002', 'a"b\\c\u0000d', 'ü'];

t.test('the text is the serialised AdmissionReview, kept or not', async (t) => {
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
    for (const uid of uids) {
      for (const result of results()) {
        const expected = JSON.stringify(reviewResponse(apiVersion, uid, result));
        t.equal(reviewResponseJson(apiVersion, uid, result), expected);
        const kept = keepResult(result);
        t.equal(reviewResponseJson(apiVersion, uid, kept), expected, 'kept: the same text');
        t.same(
          JSON.parse(reviewResponseJson(apiVersion, uid, kept)),
          reviewResponse(apiVersion, uid, result),
        );
      }
    }
  }
});

t.test('a kept result is frozen all the way down, so its written JSON never goes stale', async (t) => {
  const [, warned, , invalid] = results() as [
    AdmissionResult,
    AdmissionResult,
    AdmissionResult,
    AdmissionResult,
  ];
  const kept = keepResult(warned);
  t.equal(kept, warned, 'the same object');
  t.throws(() => kept.warnings?.push('late'));
  t.throws(() => {
    (kept as { allowed: boolean }).allowed = false;
  });
  t.equal(resultJson(kept), JSON.stringify(warned));
  const keptInvalid = keepResult(invalid);
  t.throws(() => keptInvalid.status?.details?.causes?.push({} as never));
  t.throws(() => {
    (keptInvalid.status as { code: number }).code = 200;
  });
  t.equal(keepResult(kept), kept, 'keeping twice changes nothing');
});

t.test(
  'every review allowed without a warning shares one kept result: no caller can change it',
  async (t) => {
    const first = allow();
    t.equal(allow([]), first, 'no warnings: the same result');
    t.equal(keepResult(first), first, 'already kept: its JSON written once');
    t.throws(() => {
      (first as { allowed: boolean }).allowed = false;
    });
    t.throws(() => {
      (first as { warnings?: string[] }).warnings = ['late'];
    });
    t.same(allow(), { allowed: true }, 'the next review is answered as before');
    t.equal(resultJson(allow()), '{"allowed":true}');
    const warned = allow(['w']);
    t.not(warned, first, 'warnings: a result of its own');
    t.same(warned, { allowed: true, warnings: ['w'] });
  },
);
