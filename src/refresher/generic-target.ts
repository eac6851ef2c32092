/**
 * Generic targets (`spec.target.manifest`, ESO 2.9): an ExternalSecret that writes a ConfigMap or
 * a custom resource instead of a Secret. Off unless the operator names the kind in `--generic-target-kinds` (ESO's
 * `--unsafe-allow-generic-targets`, narrowed to a list): a ConfigMap is readable by far more
 * principals than a Secret, so writing secret values into one is an explicit decision.
 * Custom resources are written as ESO writes them (external-secret.ts, renderCustomResource).
 */
import { createHash } from 'node:crypto';
import { genericKindId } from '../api/generic-kinds.ts';
import type { ConfigMap, ExternalSecret, KubeObject } from '../api/types.ts';
import { EswError } from '../errors.ts';
import { dataHash, ES_HASH_ANNOTATION, type SecretData } from './secret-data.ts';

export interface TargetManifest {
  apiVersion: string;
  kind: string;
}

/** The manifest of a generic target, or undefined for an ordinary Secret target. */
export function manifestOf(es: ExternalSecret): TargetManifest | undefined {
  const m = es.spec?.target?.manifest as { apiVersion?: unknown; kind?: unknown } | null | undefined;
  if (m === undefined || m === null) return undefined;
  return {
    apiVersion: typeof m.apiVersion === 'string' ? m.apiVersion : '',
    kind: typeof m.kind === 'string' ? m.kind : '',
  };
}

/**
 * How a kind is named in `--generic-target-kinds`: `Kind` for the core group (`ConfigMap`),
 * `group/version/Kind` otherwise (`example.com/v1/Database`).
 */
export function kindId(m: TargetManifest): string {
  return genericKindId(m.apiVersion, m.kind);
}

/** `--generic-target-kinds`: comma-separated; `v1/ConfigMap` is read as `ConfigMap`. */
export function parseGenericTargetKinds(raw: string | undefined): string[] {
  const out = new Set<string>();
  for (const part of (raw ?? '').split(',')) {
    const k = part.trim();
    if (k === '') continue;
    if (k === 'Secret' || k === 'v1/Secret')
      throw new Error('Secret is not a generic target kind (use the ordinary target)');
    if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+\/[A-Za-z][A-Za-z0-9]*$|^[A-Z][A-Za-z0-9]*$/.test(k))
      throw new Error(`"${k}": expected Kind (core group) or group/version/Kind`);
    out.add(k.startsWith('v1/') ? k.slice(3) : k);
  }
  return [...out].sort();
}

/**
 * Refuses a target this sync must not write: a Secret (the ordinary target does that, with its
 * type checks), a kind the operator did not allow, a kind not implemented here.
 */
export function checkGenericTarget(m: TargetManifest, allowed: readonly string[]): void {
  if (m.apiVersion === '' || m.kind === '')
    throw new EswError('ESW_VALIDATION', 'spec.target.manifest: apiVersion and kind are required');
  const id = kindId(m);
  if (id === 'Secret')
    throw new EswError(
      'ESW_VALIDATION',
      'spec.target.manifest: Secret is not a generic target (omit manifest to write a Secret)',
    );
  if (!allowed.includes(id))
    throw new EswError(
      'ESW_VALIDATION',
      `spec.target.manifest: generic target kind "${id}" is not allowed here (the operator lists allowed kinds in --generic-target-kinds)`,
    );
}

/** A ConfigMap's values as bytes: `data` as UTF-8, `binaryData` decoded. */
export function configMapData(cm: ConfigMap | undefined): SecretData {
  const out: SecretData = new Map();
  for (const [k, v] of Object.entries(cm?.data ?? {})) out.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(cm?.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/**
 * Splits values into ConfigMap `data` (valid UTF-8, as ESO writes them) and `binaryData` (any
 * other bytes: ESO's string conversion would replace them with U+FFFD and lose them).
 */
export function toConfigMapFields(data: SecretData): {
  data: Record<string, string>;
  binaryData?: Record<string, string>;
} {
  const text: Record<string, string> = {};
  const binary: Record<string, string> = {};
  for (const k of [...data.keys()].sort()) {
    const v = data.get(k) as Buffer;
    const s = v.toString('utf8');
    if (Buffer.from(s, 'utf8').equals(v)) text[k] = s;
    else binary[k] = v.toString('base64');
  }
  return Object.keys(binary).length > 0 ? { data: text, binaryData: binary } : { data: text };
}

const digests = new WeakMap<object, string>();

/** A copy of a ConfigMap without its values, remembering their hash (informer projection). */
export function withConfigMapDigest(cm: ConfigMap): ConfigMap {
  const { data: _d, binaryData: _b, ...rest } = cm;
  digests.set(rest, dataHash(configMapData(cm)));
  return rest;
}

/** The hash of a ConfigMap's values: computed, or remembered when they were dropped. */
export function configMapDigest(cm: ConfigMap): string {
  return digests.get(cm) ?? dataHash(configMapData(cm));
}

/**
 * A ConfigMap target as written: its values match its data-hash annotation (ESO's isSecretValid).
 * On a cached one, one annotation read and one WeakMap read.
 */
export function configMapIntact(cm: ConfigMap): boolean {
  return cm.metadata?.annotations?.[ES_HASH_ANNOTATION] === configMapDigest(cm);
}

/** sha256 of an object's content without metadata and status, keys sorted: its data-hash. */
export function contentDigest(obj: object): string {
  const { metadata: _m, status: _s, ...rest } = obj as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const m = v as Record<string, unknown>;
    return `{${Object.keys(m)
      .sort()
      .filter((k) => m[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(m[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** A copy of a custom resource with its identity and metadata only, remembering its content digest. */
export function withContentDigest(obj: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata ?? {} };
  digests.set(out, contentDigest(obj));
  return out;
}

/** The digest of a custom resource's content: computed, or remembered when it was dropped. */
export function objectDigest(obj: KubeObject): string {
  return digests.get(obj) ?? contentDigest(obj);
}

/** A custom-resource target as written: its content matches its data-hash annotation. */
export function objectIntact(obj: KubeObject): boolean {
  return obj.metadata?.annotations?.[ES_HASH_ANNOTATION] === objectDigest(obj);
}
