/**
 * The Kubernetes side of `POST /refresh` (src/server/refresh.ts): TokenReview,
 * SubjectAccessReview, the informers' store cache and the request annotation on the store.
 * RBAC for it: `create` on tokenreviews and subjectaccessreviews, `patch` on secretstores and
 * clustersecretstores (the chart grants them only with `refreshEndpoint.enabled`).
 */
import type { SecretStore, StoreKind } from '../api/types.ts';
import type { StoreId } from '../refresher/triggers.ts';
import { REFRESH_REQUEST_ANNOTATION } from '../refresher/triggers.ts';
import type { RefreshKube, ReviewedUser } from '../server/refresh.ts';
import { toKubeError } from './client.ts';
import type { KubeHttp } from './http.ts';

const ESO = 'external-secrets.io/v1';

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
}

export class ApiRefreshKube implements RefreshKube {
  readonly #http: KubeHttp;
  readonly #getStore: (
    kind: StoreKind,
    name: string,
    namespace: string | undefined,
  ) => SecretStore | undefined;

  constructor(
    http: KubeHttp,
    getStore: (kind: StoreKind, name: string, namespace: string | undefined) => SecretStore | undefined,
  ) {
    this.#http = http;
    this.#getStore = getStore;
  }

  async reviewToken(token: string, audiences: string[] | undefined): Promise<ReviewedUser | undefined> {
    const what = 'create tokenreview';
    let review: { status?: TokenReviewStatus };
    try {
      review = await this.#http.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        what,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(audiences ? { audiences } : {}) },
        },
      });
    } catch (err: unknown) {
      throw toKubeError(err, what);
    }
    const status = review.status ?? {};
    const username = status.user?.username;
    if (status.authenticated !== true || !username) return undefined;
    // A token bound to other audiences than the ones asked for is not one meant for us.
    if (audiences && !audiences.some((a) => status.audiences?.includes(a))) return undefined;
    return {
      username,
      ...(status.user?.uid ? { uid: status.user.uid } : {}),
      ...(status.user?.groups ? { groups: status.user.groups } : {}),
      ...(status.user?.extra ? { extra: status.user.extra } : {}),
    };
  }

  async reviewAccess(
    user: ReviewedUser,
    attrs: Parameters<RefreshKube['reviewAccess']>[1],
  ): Promise<boolean> {
    const what = 'create subjectaccessreview';
    try {
      const review = await this.#http.request<{ status?: { allowed?: boolean; denied?: boolean } }>(
        'POST',
        '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        {
          what,
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: user.username,
              ...(user.uid ? { uid: user.uid } : {}),
              ...(user.groups ? { groups: user.groups } : {}),
              ...(user.extra ? { extra: user.extra } : {}),
              resourceAttributes: {
                group: attrs.group,
                resource: attrs.resource,
                subresource: attrs.subresource,
                verb: attrs.verb,
                name: attrs.name,
                ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
              },
            },
          },
        },
      );
      return review.status?.allowed === true && review.status.denied !== true;
    } catch (err: unknown) {
      throw toKubeError(err, what);
    }
  }

  storeExists(store: StoreId): boolean {
    return this.#getStore(store.kind, store.name, store.namespace) !== undefined;
  }

  /**
   * `dryRun`: checks that the request could be recorded (RBAC: `patch` on the store) without
   * recording it — a change feed's consumer asks once when its feed opens.
   */
  async recordRequest(store: StoreId, annotation: string, opts: { dryRun?: boolean } = {}): Promise<void> {
    const path =
      store.kind === 'ClusterSecretStore'
        ? `/apis/${ESO}/clustersecretstores/${encodeURIComponent(store.name)}`
        : `/apis/${ESO}/namespaces/${encodeURIComponent(store.namespace ?? '')}/secretstores/${encodeURIComponent(store.name)}`;
    const what = `patch ${store.kind.toLowerCase()} ${store.namespace ? `${store.namespace}/` : ''}${store.name}`;
    try {
      // The annotation alone: every request a new value, so each is one watch event on every
      // replica (concurrent requests for other keys are each seen, none overwrites another).
      await this.#http.request('PATCH', path, {
        what,
        contentType: 'application/merge-patch+json',
        ...(opts.dryRun ? { query: { dryRun: 'All' } } : {}),
        body: { metadata: { annotations: { [REFRESH_REQUEST_ANNOTATION]: annotation } } },
      });
    } catch (err: unknown) {
      throw toKubeError(err, what);
    }
  }
}
