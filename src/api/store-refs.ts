/**
 * References from a store to Kubernetes objects (Secret keys, ServiceAccounts) and ESO's referent
 * rule for them (`esutils.ValidateReferentSecretSelector` / `ValidateReferentServiceAccountSelector`):
 * a namespaced SecretStore may name only its own namespace; a ClusterSecretStore may name any, and
 * one that names none is "referent" — resolved in the namespace of each ExternalSecret using it.
 */
import { type FieldError, fieldErrors } from './field-errors.ts';
import {
  checkDnsLabel,
  checkSecretKey,
  type Obj,
  optArray,
  optName,
  optString,
  reqObject,
  reqString,
} from './schema.ts';
import { StoreKind } from './types.ts';

/** What a provider validator knows about the store it checks. */
export interface StoreContext {
  kind: StoreKind;
  /** metadata.namespace of a SecretStore, when known (admission always knows it). */
  namespace?: string;
  /** `external-secrets.io/v1` or `external-secrets.io/v1beta1`; v1 when unknown. */
  apiVersion?: string;
}

export function storeContext(kind: StoreKind, ctx?: Partial<StoreContext>): StoreContext {
  return { ...ctx, kind };
}

export interface SelectorOptions {
  /** `key` must be set (no provider default exists for it). Default true. */
  requireKey?: boolean;
  /** `name` must be set. Default true. */
  requireName?: boolean;
}

function checkReferentNamespace(sel: Obj, path: string, errors: FieldError[], ctx: StoreContext): void {
  const ns = optString(sel.namespace, `${path}.namespace`, errors);
  if (ns === undefined) return;
  if (ns === '') {
    errors.push(fieldErrors.required(`${path}.namespace`));
    return;
  }
  if (!checkDnsLabel(ns, `${path}.namespace`, errors)) return;
  if (ctx.kind === StoreKind.SecretStore && ctx.namespace !== undefined && ns !== ctx.namespace) {
    errors.push(
      fieldErrors.forbidden(
        `${path}.namespace`,
        `a SecretStore may only refer to its own namespace "${ctx.namespace}", not "${ns}": leave namespace empty or use a ClusterSecretStore`,
      ),
    );
  }
}

/** `esmeta.SecretKeySelector`: name, key, namespace (referent rule). */
export function checkSecretKeySelector(
  value: unknown,
  path: string,
  errors: FieldError[],
  ctx: StoreContext,
  opts: SelectorOptions = {},
): Obj | undefined {
  const sel = reqObject(value, path, errors);
  if (!sel) return undefined;
  if (opts.requireName === false) optName(sel.name, `${path}.name`, errors);
  else if (sel.name === undefined || sel.name === null || sel.name === '') {
    errors.push(fieldErrors.required(`${path}.name`, 'the name of the Secret'));
  } else optName(sel.name, `${path}.name`, errors);
  if (opts.requireKey !== false && (sel.key === undefined || sel.key === null || sel.key === '')) {
    errors.push(fieldErrors.required(`${path}.key`, 'the key within the Secret'));
  } else {
    const key = optString(sel.key, `${path}.key`, errors);
    if (key) checkSecretKey(key, `${path}.key`, errors);
  }
  checkReferentNamespace(sel, path, errors, ctx);
  return sel;
}

/** `esmeta.ServiceAccountSelector`: name (required), namespace (referent rule), audiences. */
export function checkServiceAccountSelector(
  value: unknown,
  path: string,
  errors: FieldError[],
  ctx: StoreContext,
): Obj | undefined {
  const sel = reqObject(value, path, errors);
  if (!sel) return undefined;
  if (reqString(sel.name, `${path}.name`, errors, 'the name of the ServiceAccount') !== undefined) {
    optName(sel.name, `${path}.name`, errors);
  }
  const auds = optArray(sel.audiences, `${path}.audiences`, errors) ?? [];
  auds.forEach((a, i) => {
    optString(a, `${path}.audiences[${i}]`, errors);
  });
  checkReferentNamespace(sel, path, errors, ctx);
  return sel;
}

/** An absolute http(s) URL, for endpoints such as Vault's `server` or Azure's `vaultUrl`. */
export function checkUrl(value: string, path: string, errors: FieldError[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    errors.push(fieldErrors.invalid(path, value, 'must be an absolute URL such as "https://host:8200"'));
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    errors.push(fieldErrors.invalid(path, value, 'must be an http or https URL'));
  }
}
