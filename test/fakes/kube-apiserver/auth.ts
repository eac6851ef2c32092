/**
 * TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1) for
 * the API-server double: tokens are the double's `users` (token → username), with optional
 * groups and audiences; access is the `authorize` callback's answer (default: only
 * `kubernetes-admin` and `system:masters`). Both are create-only and never stored, as in
 * Kubernetes; the answer echoes the spec with a `status`.
 */

export interface AccessAttributes {
  user: string;
  groups: string[];
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface AuthOptions {
  users?: Record<string, string>;
  /** username → groups */
  groups?: Record<string, string[]>;
  /** token → the audiences it was issued for; default the API server's own. */
  tokenAudiences?: Record<string, string[]>;
  authorize?: (attrs: AccessAttributes) => boolean;
}

export const API_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';
export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
export const ACCESS_REVIEW_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

type Review = { apiVersion?: string; kind?: string; spec?: Record<string, unknown> };

/** The answer to a review POSTed to `path`, or undefined when `path` is not a review. */
export function review(path: string, body: Review, opts: AuthOptions): object | undefined {
  if (path === TOKEN_REVIEW_PATH) return tokenReview(body, opts);
  if (path === ACCESS_REVIEW_PATH) return accessReview(body, opts);
  return undefined;
}

function tokenReview(body: Review, opts: AuthOptions): object {
  const spec = body.spec ?? {};
  const token = typeof spec.token === 'string' ? spec.token : '';
  const username = opts.users?.[token];
  const issued = opts.tokenAudiences?.[token] ?? [API_AUDIENCE];
  const wanted = Array.isArray(spec.audiences) ? (spec.audiences as string[]) : [API_AUDIENCE];
  const audiences = wanted.filter((a) => issued.includes(a));
  const ok = username !== undefined && audiences.length > 0;
  return {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    metadata: { creationTimestamp: null },
    spec,
    status: ok
      ? {
          authenticated: true,
          user: {
            username,
            uid: `uid-${username}`,
            groups: [...(opts.groups?.[username] ?? []), 'system:authenticated'],
          },
          audiences,
        }
      : { user: {}, error: '[invalid bearer token, token lookup failed]' },
  };
}

function accessReview(body: Review, opts: AuthOptions): object {
  const spec = body.spec ?? {};
  const ra = (spec.resourceAttributes ?? {}) as Record<string, string>;
  const attrs: AccessAttributes = {
    user: String(spec.user ?? ''),
    groups: Array.isArray(spec.groups) ? (spec.groups as string[]) : [],
    verb: ra.verb ?? '',
    group: ra.group ?? '',
    resource: ra.resource ?? '',
    subresource: ra.subresource ?? '',
    namespace: ra.namespace ?? '',
    name: ra.name ?? '',
  };
  const authorize =
    opts.authorize ??
    ((a: AccessAttributes) => a.user === 'kubernetes-admin' || a.groups.includes('system:masters'));
  const allowed = authorize(attrs);
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: { creationTimestamp: null },
    spec,
    status: allowed ? { allowed: true, reason: 'allowed by the double' } : { allowed: false },
  };
}
