/**
 * The AdmissionReviews of the admission benchmarks (bench/admission.ts, bench/admission-pieces.ts,
 * and the /validate load of bench/scale-lib.ts).
 */

/** A CREATE of an ExternalSecret reading two properties of one key through a SecretStore. */
export function externalSecretReview(namespace: string, store: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'bench-validate',
      kind: { group: 'external-secrets.io', version: 'v1', kind: 'ExternalSecret' },
      resource: { group: 'external-secrets.io', version: 'v1', resource: 'externalsecrets' },
      operation: 'CREATE',
      namespace,
      object: {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name: 'database-credentials-secret', namespace },
        spec: {
          refreshInterval: '1h',
          secretStoreRef: { name: store, kind: 'SecretStore' },
          target: { name: 'database-credentials', creationPolicy: 'Owner' },
          data: [
            {
              secretKey: 'username',
              remoteRef: { key: 'my-app/database-credentials', property: 'username' },
            },
            {
              secretKey: 'password',
              remoteRef: { key: 'my-app/database-credentials', property: 'password' },
            },
          ],
        },
      },
    },
  });
}

export const validateReview = externalSecretReview('default', 'bench-store');

/**
 * The same CREATE as the API server hands it to a validating webhook after `kubectl apply` (client
 * side, the default): the CRD's defaults written in (`target.deletionPolicy`), the uid, creation
 * time and generation set, the manifest kept in the last-applied annotation and the fields in
 * `managedFields` — what a cluster sends, 2.5× the hand-made review's bytes.
 */
export const appliedValidateReview = (() => {
  const review = JSON.parse(validateReview) as {
    request: { object: { metadata: Record<string, unknown>; spec: { target: Record<string, unknown> } } };
  };
  const object = review.request.object;
  const applied = JSON.stringify(object);
  // In the order the API server writes metadata.
  object.metadata = {
    ...object.metadata,
    uid: '6f1c3a52-0b8e-4d55-9a8e-3d2f5c1e7b90',
    generation: 1,
    creationTimestamp: '2026-12-03T10:00:00Z',
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${applied}\n` },
    managedFields: [
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'external-secrets.io/v1',
        time: '2026-12-03T10:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': {
            'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} },
          },
          'f:spec': {
            '.': {},
            'f:data': {},
            'f:refreshInterval': {},
            'f:secretStoreRef': { '.': {}, 'f:kind': {}, 'f:name': {} },
            'f:target': { '.': {}, 'f:creationPolicy': {}, 'f:deletionPolicy': {}, 'f:name': {} },
          },
        },
      },
    ],
  };
  object.spec.target = { ...object.spec.target, deletionPolicy: 'Retain' };
  return JSON.stringify(review);
})();

const b64 = (s: string) => Buffer.from(s).toString('base64');
export const mutateReview = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'bench-mutate',
    kind: { group: '', version: 'v1', kind: 'Secret' },
    resource: { group: '', version: 'v1', resource: 'secrets' },
    operation: 'CREATE',
    namespace: 'default',
    object: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'database-credentials',
        namespace: 'default',
        labels: { 'esw.io/inject': 'true' },
        annotations: { 'esw.io/store': 'bench-store' },
      },
      data: {
        username: b64('${ref:my-app/database-credentials#username}'),
        password: b64('${ref:my-app/database-credentials#password}'),
        url: b64('postgres://${ref:my-app/database-credentials#username}@db:5432/app'),
      },
    },
  },
});

/**
 * The same placeholder Secret with an annotation that differs in every request (as tools such
 * as GitOps controllers add): each is a new manifest, so the render memo never answers, while the
 * values are all in the cache — the first admission of each Secret on a warm webhook.
 */
export const distinctMutateReview = mutateReview.replace(
  '"esw.io/store":"bench-store"',
  '"esw.io/store":"bench-store","bench.esw.io/request":"[<id>]"',
);

/**
 * The same ExternalSecret as an UPDATE that changes nothing (object and oldObject alike), again
 * and again: what a GitOps tool's server-side dry-run of an unchanged object sends, the repeat the
 * validation memo answers. (A CREATE is never repeated in a cluster: the API server sets the
 * object's uid and creationTimestamp before validating webhooks see it.)
 */
export const unchangedUpdateReview = (() => {
  const review = JSON.parse(validateReview) as { request: Record<string, unknown> };
  review.request.uid = 'bench-validate-update';
  review.request.operation = 'UPDATE';
  review.request.oldObject = review.request.object;
  return JSON.stringify(review);
})();

/**
 * The ExternalSecret of `validateReview` under a kind /validate does not check (an
 * `external-secrets.io` PushSecret: allowed as soon as its kind is read), for the row that
 * measures everything around validation — routing, the body budget, parsing, the object bounds,
 * metrics and the answer — with the same bytes on the wire give or take three.
 */
export const uncheckedKindReview = (() => {
  const review = JSON.parse(validateReview) as { request: Record<string, unknown> };
  review.request.uid = 'bench-unchecked';
  review.request.kind = { group: 'external-secrets.io', version: 'v1alpha1', kind: 'PushSecret' };
  review.request.resource = { group: 'external-secrets.io', version: 'v1alpha1', resource: 'pushsecrets' };
  return JSON.stringify(review);
})();
