/**
 * SecretStore / ClusterSecretStore validation: ESO's `secretstore_validator.go` (conditions'
 * namespaceRegexes compile, exactly one provider, the provider's ValidateStore), the CRD schema
 * (provider one-of, conditions' namespace names, retrySettings) and the Go-duration syntax of
 * `retrySettings.retryInterval` and `refreshInterval`, which ESO parses only when it uses them.
 * Providers this webhook does not serve are refused by the field-support table (schema-check.ts).
 */
import { feedAddressProblem } from '../feeds/addresses.ts';
import { EVENT_GRID_FEED, FEED_SECRET_ANNOTATION, feedSecretRef } from '../feeds/event-grid.ts';
import { CHANGE_FEED_ANNOTATION } from '../feeds/types.ts';
import { checkGoRegexp } from '../patterns/re2.ts';
import { validateAwsStore } from '../providers/aws/validate.ts';
import { validateAzureKvStore } from '../providers/azurekv/validate.ts';
import { validateFakeStore } from '../providers/fake/validate.ts';
import { validateGcpSmStore } from '../providers/gcpsm/validate.ts';
import { validateVaultStore } from '../providers/vault/validate.ts';
import { parseDuration } from './duration.ts';
import { type FieldError, fieldErrors } from './field-errors.ts';
import { SERVED_PROVIDERS } from './field-support.ts';
import { DEFAULT_IDENTITY_POLICY, type IdentityPolicy, identityErrors } from './identity.ts';
import {
  checkDnsLabel,
  checkLabelSelector,
  type Obj,
  optArray,
  optInteger,
  optObject,
  optString,
  presentKeys,
  reqObject,
} from './schema.ts';
import { knownFieldsAt } from './schema-table.ts';
import type { StoreContext } from './store-refs.ts';
import { type KubeObject, StoreKind } from './types.ts';
import type { EsoVersion, ValidationResult } from './validate-external-secret.ts';
import { validateMetadata } from './validate-meta.ts';

type ProviderValidator = (
  spec: unknown,
  path: string,
  kind: StoreKind,
  ctx?: Partial<StoreContext>,
) => FieldError[];

const PROVIDER_VALIDATORS: Record<(typeof SERVED_PROVIDERS)[number], ProviderValidator> = {
  aws: validateAwsStore,
  azurekv: validateAzureKvStore,
  gcpsm: validateGcpSmStore,
  vault: validateVaultStore,
  fake: validateFakeStore,
};

const providerLists = new Map<string, readonly string[]>();
/** The providers ESO's schema defines for this kind and version (computed once). */
function esoProviders(kind: StoreKind, version: EsoVersion): readonly string[] {
  const id = `${kind}/${version}`;
  let list = providerLists.get(id);
  if (!list) {
    list = knownFieldsAt(kind, version, 'spec.provider');
    providerLists.set(id, list);
  }
  return list;
}

export function validateSecretStore(
  obj: Obj,
  kind: StoreKind,
  version: EsoVersion,
  identity: IdentityPolicy = DEFAULT_IDENTITY_POLICY,
): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const apiVersion = `external-secrets.io/${version}`;
  if (version === 'v1beta1')
    warnings.push(`external-secrets.io/v1beta1 ${kind} is deprecated; use external-secrets.io/v1`);
  const namespaced = kind === StoreKind.SecretStore;
  const meta = validateMetadata(obj, namespaced, errors);
  const namespace =
    namespaced && meta && typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : undefined;

  const spec = reqObject(obj.spec, 'spec', errors);
  if (!spec) return { errors, warnings };

  optString(spec.controller, 'spec.controller', errors);
  // v1: seconds (legacy) or a Go duration; v1beta1: seconds. The schema walk checks the type.
  const refresh = spec.refreshInterval;
  if (typeof refresh === 'string' && version === 'v1' && parseDuration(refresh) === undefined) {
    errors.push(
      fieldErrors.invalid(
        'spec.refreshInterval',
        refresh,
        'must be a number of seconds or a Go duration such as "1h" or "5m"',
      ),
    );
  }
  const retry = optObject(spec.retrySettings, 'spec.retrySettings', errors);
  if (retry) {
    optInteger(retry.maxRetries, 'spec.retrySettings.maxRetries', errors);
    const interval = optString(retry.retryInterval, 'spec.retrySettings.retryInterval', errors);
    if (interval !== undefined && parseDuration(interval) === undefined) {
      errors.push(
        fieldErrors.invalid(
          'spec.retrySettings.retryInterval',
          interval,
          'must be a Go duration such as "10s" or "1m"',
        ),
      );
    }
  }

  const conditions = optArray(spec.conditions, 'spec.conditions', errors) ?? [];
  if (conditions.length > 0 && namespaced) {
    warnings.push(
      'spec.conditions is only used by a ClusterSecretStore; a SecretStore serves its own namespace only',
    );
  }
  conditions.forEach((raw, i) => {
    const p = `spec.conditions[${i}]`;
    const cond = reqObject(raw, p, errors);
    if (!cond) return;
    if (cond.namespaceSelector !== undefined && cond.namespaceSelector !== null) {
      checkLabelSelector(cond.namespaceSelector, `${p}.namespaceSelector`, errors);
    }
    (optArray(cond.namespaces, `${p}.namespaces`, errors) ?? []).forEach((ns, j) => {
      const s = optString(ns, `${p}.namespaces[${j}]`, errors);
      if (s === '') errors.push(fieldErrors.required(`${p}.namespaces[${j}]`));
      else if (s !== undefined) checkDnsLabel(s, `${p}.namespaces[${j}]`, errors);
    });
    (optArray(cond.namespaceRegexes, `${p}.namespaceRegexes`, errors) ?? []).forEach((re, j) => {
      const s = optString(re, `${p}.namespaceRegexes[${j}]`, errors);
      if (s === undefined) return;
      const problem = checkGoRegexp(s);
      if (problem) errors.push(fieldErrors.invalid(`${p}.namespaceRegexes[${j}]`, s, problem));
    });
  });

  if (spec.provider === undefined || spec.provider === null) {
    errors.push(
      fieldErrors.required(
        'spec.provider',
        `exactly one provider must be set (${SERVED_PROVIDERS.join(', ')}, …)`,
      ),
    );
    return { errors, warnings };
  }
  const provider = optObject(spec.provider, 'spec.provider', errors);
  if (!provider) return { errors, warnings };
  const set = presentKeys(provider, esoProviders(kind, version));
  if (set.length === 0) {
    errors.push(
      fieldErrors.required(
        'spec.provider',
        `exactly one provider must be set (${SERVED_PROVIDERS.join(', ')}, …); found none ESO knows`,
      ),
    );
    return { errors, warnings };
  }
  if (set.length > 1) {
    errors.push(
      fieldErrors.invalid(
        'spec.provider',
        provider,
        `must have exactly one provider, found ${set.length}: ${set.join(', ')}`,
      ),
    );
  }
  for (const name of set) {
    const validate = Object.hasOwn(PROVIDER_VALIDATORS, name)
      ? PROVIDER_VALIDATORS[name as keyof typeof PROVIDER_VALIDATORS]
      : undefined;
    if (!validate) continue; // refused by the field-support table (schema-check.ts)
    const ctx: Partial<StoreContext> = { apiVersion };
    if (namespace !== undefined) ctx.namespace = namespace;
    errors.push(...validate(provider[name], `spec.provider.${name}`, kind, ctx));
    // A namespaced store never borrows this server's identity unless an admin allowed it.
    errors.push(...identityErrors(name, provider[name], `spec.provider.${name}`, kind, namespace, identity));
  }
  if (set.length === 1) changeFeedErrors(obj, set[0] as string, errors);
  return { errors, warnings };
}

/**
 * `esw.io/change-feed` (docs/push-refresh.md, "Change feeds"): the provider's feed address form
 * (an SQS queue URL, a Pub/Sub subscription), bounded (the value is quoted back truncated).
 */
function changeFeedErrors(obj: Obj, provider: string, errors: FieldError[]): void {
  const annotations = (obj.metadata as Obj | undefined)?.annotations as Obj | undefined;
  const raw = annotations?.[CHANGE_FEED_ANNOTATION];
  if (typeof raw !== 'string' || raw.trim() === '') return;
  const problem = feedAddressProblem(provider, raw.trim());
  if (!problem) {
    // Event Grid: the store's delivery secret must be named (src/feeds/event-grid.ts).
    const secret = raw.trim() === EVENT_GRID_FEED ? feedSecretRef(obj as KubeObject) : undefined;
    if (secret && 'error' in secret)
      errors.push(
        fieldErrors.invalid(
          `metadata.annotations[${FEED_SECRET_ANNOTATION}]`,
          String(annotations?.[FEED_SECRET_ANNOTATION] ?? ''),
          secret.error,
        ),
      );
    return;
  }
  const path = `metadata.annotations[${CHANGE_FEED_ANNOTATION}]`;
  errors.push(fieldErrors.invalid(path, raw, `${problem} for a ${provider} store`));
}
