/**
 * SecretStore / ClusterSecretStore validation: ESO's `secretstore_validator.go` (conditions'
 * namespaceRegexes compile, exactly one provider, the provider's ValidateStore), the CRD schema
 * (provider one-of, conditions' namespace names, retrySettings) and the Go-duration syntax of
 * `retrySettings.retryInterval`, which ESO parses only when it builds a client.
 */
import { validateAwsStore } from '../providers/aws/validate.ts';
import { validateAzureKvStore } from '../providers/azurekv/validate.ts';
import { validateFakeStore } from '../providers/fake/validate.ts';
import { validateGcpSmStore } from '../providers/gcpsm/validate.ts';
import { validateVaultStore } from '../providers/vault/validate.ts';
import { parseDuration } from './duration.ts';
import { type FieldError, fieldErrors } from './field-errors.ts';
import { ESO_PROVIDERS, STORE_V1, STORE_V1BETA1, SUPPORTED_PROVIDERS } from './known-fields.ts';
import { checkGoRegexp } from './re2.ts';
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
import type { StoreContext } from './store-refs.ts';
import { StoreKind } from './types.ts';
import { checkUnknownFields } from './unknown-fields.ts';
import type { EsoVersion, StrictFinding, ValidationResult } from './validate-external-secret.ts';
import { validateMetadata } from './validate-meta.ts';

type ProviderValidator = (
  spec: unknown,
  path: string,
  kind: StoreKind,
  ctx?: Partial<StoreContext>,
) => FieldError[];

const PROVIDER_VALIDATORS: Record<(typeof SUPPORTED_PROVIDERS)[number], ProviderValidator> = {
  aws: validateAwsStore,
  azurekv: validateAzureKvStore,
  gcpsm: validateGcpSmStore,
  vault: validateVaultStore,
  fake: validateFakeStore,
};

export function validateSecretStore(obj: Obj, kind: StoreKind, version: EsoVersion): ValidationResult {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const apiVersion = `external-secrets.io/${version}`;
  const unknown: StrictFinding[] = [];
  checkUnknownFields(obj, version === 'v1' ? STORE_V1 : STORE_V1BETA1, { warnings, unknown });
  if (version === 'v1beta1')
    warnings.push(`external-secrets.io/v1beta1 ${kind} is deprecated; use external-secrets.io/v1`);
  const namespaced = kind === StoreKind.SecretStore;
  const meta = validateMetadata(obj, namespaced, errors);
  const namespace =
    namespaced && meta && typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : undefined;

  const spec = reqObject(obj.spec, 'spec', errors);
  if (!spec) return { errors, warnings, unknown };

  optString(spec.controller, 'spec.controller', errors);
  optInteger(spec.refreshInterval, 'spec.refreshInterval', errors);
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
        `exactly one provider must be set (${SUPPORTED_PROVIDERS.join(', ')}, …)`,
      ),
    );
    return { errors, warnings, unknown };
  }
  const provider = optObject(spec.provider, 'spec.provider', errors);
  if (!provider) return { errors, warnings, unknown };
  const set = presentKeys(provider, ESO_PROVIDERS);
  if (set.length === 0) {
    errors.push(
      fieldErrors.required(
        'spec.provider',
        `exactly one provider must be set (${SUPPORTED_PROVIDERS.join(', ')}, …); found none ESO knows`,
      ),
    );
    return { errors, warnings, unknown };
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
    if (!validate) {
      warnings.push(
        `spec.provider.${name}: the ${name} provider is valid for ESO but not served by this webhook; references to this store will fail`,
      );
      continue;
    }
    const ctx: Partial<StoreContext> = { apiVersion };
    if (namespace !== undefined) ctx.namespace = namespace;
    errors.push(...validate(provider[name], `spec.provider.${name}`, kind, ctx));
  }
  return { errors, warnings, unknown };
}
