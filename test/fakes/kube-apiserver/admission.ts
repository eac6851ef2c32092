/**
 * The admission chain of the double: mutating webhooks in order (each JSONPatch applied before
 * the next is called), then validating webhooks, with the API server's matching rules and its
 * error messages.
 *
 * Supported `matchConditions` expressions are only `request.userInfo.username == '<x>'` and
 * `request.userInfo.username != '<x>'`; any other expression is an evaluation error handled
 * per `failurePolicy` (Fail rejects, Ignore skips the webhook). `matchPolicy: Equivalent` is not
 * modelled: a rule matches the requested version only (list every version in `apiVersions`).
 * `reinvocationPolicy: IfNeeded` is modelled roughly: after the mutating pass, each such webhook
 * that was called is called once more when a later webhook changed the object it returned.
 */
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import jsonpatch from 'fast-json-patch';
import { type LabelSelectorObject, matchesLabelSelector } from './selectors.ts';
import type { KObject } from './store.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionAttributes {
  operation: Operation;
  group: string;
  version: string;
  resource: string;
  subResource?: string;
  kind: string;
  namespaced: boolean;
  namespace?: string;
  name: string;
  object?: KObject;
  oldObject?: KObject;
  username: string;
  dryRun: boolean;
  /** Labels of the request's namespace (with kubernetes.io/metadata.name), for namespaceSelector. */
  namespaceLabels?: Record<string, string>;
}

export interface AdmissionResult {
  /** The (possibly mutated) object. */
  object: KObject | undefined;
  warnings: string[];
}

export class AdmissionError extends Error {
  readonly code: number;
  readonly reason: string;
  /** The webhook's `status.details`, passed on whole as the API server does (ToStatusErr). */
  readonly details: object | undefined;
  /**
   * Warnings of the webhooks called so far, the denying one's included: the API server records
   * them before it checks `allowed`, so a refused request carries them too (Warning headers).
   */
  warnings: string[] = [];
  constructor(code: number, reason: string, message: string, details?: object) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

interface Rule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

interface Webhook {
  name: string;
  clientConfig?: {
    url?: string;
    caBundle?: string;
    service?: { namespace: string; name: string; path?: string; port?: number };
  };
  rules?: Rule[];
  failurePolicy?: 'Fail' | 'Ignore';
  objectSelector?: LabelSelectorObject;
  namespaceSelector?: LabelSelectorObject;
  matchConditions?: Array<{ name: string; expression: string }>;
  timeoutSeconds?: number;
  sideEffects?: string;
  reinvocationPolicy?: 'Never' | 'IfNeeded';
}

interface WebhookConfiguration {
  kind?: string;
  metadata?: { name?: string };
  webhooks?: Webhook[];
}

export type ServiceResolver = (namespace: string, name: string, port: number) => string;

const anyOf = (list: string[] | undefined, v: string): boolean =>
  !list || list.includes('*') || list.includes(v);

export function ruleMatches(rule: Rule, a: AdmissionAttributes): boolean {
  if (!anyOf(rule.operations, a.operation)) return false;
  if (!anyOf(rule.apiGroups, a.group)) return false;
  if (!anyOf(rule.apiVersions, a.version)) return false;
  const scope = rule.scope ?? '*';
  if (scope === 'Namespaced' && !a.namespaced) return false;
  if (scope === 'Cluster' && a.namespaced) return false;
  return (rule.resources ?? []).some((r) => {
    if (r === '*/*') return true;
    const [rr, rs] = r.split('/');
    if (rr !== '*' && rr !== a.resource) return false;
    return rs === undefined ? a.subResource === undefined : rs === '*' || rs === a.subResource;
  });
}

/** `true` call, `false` skip; throws on an expression the double does not understand. */
function evalCondition(expression: string, username: string): boolean {
  const m = /^\s*request\.userInfo\.username\s*(==|!=)\s*'([^']*)'\s*$/.exec(expression);
  if (!m) throw new Error(`unsupported expression in the test double: ${expression}`);
  return m[1] === '==' ? username === m[2] : username !== m[2];
}

export class AdmissionChain {
  #configs: WebhookConfiguration[] = [];
  readonly #resolve: ServiceResolver | undefined;
  readonly #timeoutMs: number | undefined;

  constructor(opts: { serviceResolver?: ServiceResolver; timeoutMs?: number } = {}) {
    this.#resolve = opts.serviceResolver;
    this.#timeoutMs = opts.timeoutMs;
  }

  setWebhooks(configs: object[]): void {
    this.#configs = structuredClone(configs) as WebhookConfiguration[];
  }

  get active(): boolean {
    return this.#configs.length > 0;
  }

  async admit(a: AdmissionAttributes): Promise<AdmissionResult> {
    const warnings: string[] = [];
    try {
      return await this.#admit(a, warnings);
    } catch (err) {
      if (err instanceof AdmissionError) err.warnings = [...warnings, ...err.warnings];
      throw err;
    }
  }

  async #admit(a: AdmissionAttributes, warnings: string[]): Promise<AdmissionResult> {
    const byName = (x: WebhookConfiguration, y: WebhookConfiguration) =>
      (x.metadata?.name ?? '').localeCompare(y.metadata?.name ?? '');
    const mutating = this.#configs.filter((c) => c.kind === 'MutatingWebhookConfiguration').sort(byName);
    const validating = this.#configs.filter((c) => c.kind === 'ValidatingWebhookConfiguration').sort(byName);
    let object = a.object;
    /** What each IfNeeded webhook that was called left behind, to see whether a later one changed it. */
    const left = new Map<Webhook, string>();
    const mutate = async (wh: Webhook): Promise<void> => {
      const res = await this.#call(wh, { ...a, object }, true);
      if (!res) return;
      warnings.push(...res.warnings);
      if (res.patch && object) {
        const ops = JSON.parse(Buffer.from(res.patch, 'base64').toString('utf8'));
        object = jsonpatch.applyPatch(structuredClone(object), ops, false, false).newDocument as KObject;
      }
      if (wh.reinvocationPolicy === 'IfNeeded') left.set(wh, JSON.stringify(object));
    };
    const hooks = mutating.flatMap((cfg) => cfg.webhooks ?? []);
    for (const wh of hooks) await mutate(wh);
    const again = hooks.filter((wh) => left.has(wh) && left.get(wh) !== JSON.stringify(object));
    for (const wh of again) await mutate(wh);
    for (const cfg of validating) {
      for (const wh of cfg.webhooks ?? []) {
        const res = await this.#call(wh, { ...a, object }, false);
        if (res) warnings.push(...res.warnings);
      }
    }
    return { object, warnings };
  }

  #matches(wh: Webhook, a: AdmissionAttributes): boolean {
    if (!(wh.rules ?? []).some((r) => ruleMatches(r, a))) return false;
    const labelsOf = (o: KObject | undefined) => o?.metadata?.labels ?? {};
    const objectOk =
      a.operation === 'DELETE'
        ? matchesLabelSelector(wh.objectSelector, labelsOf(a.oldObject))
        : matchesLabelSelector(wh.objectSelector, labelsOf(a.object)) ||
          (a.oldObject !== undefined && matchesLabelSelector(wh.objectSelector, labelsOf(a.oldObject)));
    if (!objectOk) return false;
    if (a.namespaced && !matchesLabelSelector(wh.namespaceSelector, a.namespaceLabels ?? {})) return false;
    return true;
  }

  /** Undefined when the webhook does not apply (or failed and is ignored). */
  async #call(
    wh: Webhook,
    a: AdmissionAttributes,
    mutating: boolean,
  ): Promise<{ patch?: string; warnings: string[] } | undefined> {
    if (!this.#matches(wh, a)) return undefined;
    if (a.dryRun && wh.sideEffects !== 'None' && wh.sideEffects !== 'NoneOnDryRun') {
      throw new AdmissionError(400, 'BadRequest', `admission webhook "${wh.name}" does not support dry run`);
    }
    const ignore = wh.failurePolicy === 'Ignore';
    try {
      for (const c of wh.matchConditions ?? []) {
        if (!evalCondition(c.expression, a.username)) return undefined;
      }
    } catch (err) {
      if (ignore) return undefined;
      throw new AdmissionError(
        500,
        'InternalError',
        `failed calling webhook "${wh.name}": failed to evaluate match condition: ${(err as Error).message}`,
      );
    }
    const uid = randomUUID();
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid,
        kind: { group: a.group, version: a.version, kind: a.kind },
        resource: { group: a.group, version: a.version, resource: a.resource },
        ...(a.subResource ? { subResource: a.subResource } : {}),
        requestKind: { group: a.group, version: a.version, kind: a.kind },
        requestResource: { group: a.group, version: a.version, resource: a.resource },
        name: a.name,
        ...(a.namespace ? { namespace: a.namespace } : {}),
        operation: a.operation,
        userInfo: { username: a.username, groups: ['system:authenticated'] },
        object: a.operation === 'DELETE' ? null : (a.object ?? null),
        oldObject: a.oldObject ?? null,
        dryRun: a.dryRun,
        options: null,
      },
    };
    let body: { response?: AdmissionResponse };
    try {
      body = (await this.#post(wh, review)) as { response?: AdmissionResponse };
      if (!body?.response) throw new Error('received empty response');
      if (body.response.uid !== uid) {
        throw new Error(`expected response.uid="${uid}", got "${body.response.uid}"`);
      }
    } catch (err) {
      if (ignore) return undefined;
      throw new AdmissionError(
        500,
        'InternalError',
        `failed calling webhook "${wh.name}": ${(err as Error).message}`,
      );
    }
    const r = body.response;
    if (!r.allowed) {
      const status = r.status ?? {};
      const code = (status.code ?? 0) < 400 ? 400 : (status.code as number);
      const deniedBy = `admission webhook "${wh.name}" denied the request`;
      const message = status.message
        ? `${deniedBy}: ${status.message}`
        : status.reason
          ? `${deniedBy}: ${status.reason}`
          : `${deniedBy} without explanation`;
      const denied = new AdmissionError(
        code,
        status.reason ?? (code === 403 ? 'Forbidden' : 'BadRequest'),
        message,
        status.details,
      );
      denied.warnings = r.warnings ?? [];
      throw denied;
    }
    if (r.patch && !mutating) {
      throw new AdmissionError(
        500,
        'InternalError',
        `validating webhook "${wh.name}" may not return a patch`,
      );
    }
    return { ...(r.patch ? { patch: r.patch } : {}), warnings: r.warnings ?? [] };
  }

  #post(wh: Webhook, review: object): Promise<unknown> {
    const cc = wh.clientConfig ?? {};
    let url: string;
    let servername: string | undefined;
    if (cc.url) url = cc.url;
    else if (cc.service) {
      if (!this.#resolve) return Promise.reject(new Error('no serviceResolver configured in the double'));
      const base = this.#resolve(cc.service.namespace, cc.service.name, cc.service.port ?? 443);
      url = base.replace(/\/$/, '') + (cc.service.path ?? '/');
      servername = `${cc.service.name}.${cc.service.namespace}.svc`;
    } else return Promise.reject(new Error('webhook has neither url nor service'));
    const payload = JSON.stringify(review);
    const timeoutMs = this.#timeoutMs ?? (wh.timeoutSeconds ?? 10) * 1000;
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = httpsRequest(
        {
          hostname: u.hostname,
          port: u.port,
          path: `${u.pathname}?timeout=${wh.timeoutSeconds ?? 10}s`,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          ...(cc.caBundle ? { ca: Buffer.from(cc.caBundle, 'base64').toString('utf8') } : {}),
          ...(servername ? { servername } : {}),
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            if ((res.statusCode ?? 0) >= 300) {
              reject(new Error(`Post "${url}": HTTP ${res.statusCode}`));
              return;
            }
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            } catch {
              reject(new Error(`Post "${url}": response is not JSON`));
            }
          });
          res.on('error', (e) => reject(new Error(`Post "${url}": ${e.message}`)));
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`failed to call webhook: Post "${url}": context deadline exceeded`));
      }, timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`failed to call webhook: Post "${url}": ${e.message}`));
      });
      req.end(payload);
    });
  }
}

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code?: number; message?: string; reason?: string; details?: object };
  patch?: string;
  patchType?: string;
  warnings?: string[];
}
