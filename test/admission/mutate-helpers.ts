/**
 * Shared by the mutation tests: AdmissionReview fixtures (deep-cloned per use), applying the
 * returned JSONPatch the way the API server does, and a capturing logger.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import type { AdmissionRequest, AdmissionResult } from '../../src/admission/types.ts';
import type { Secret } from '../../src/api/types.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'admission');

export type FixtureName =
  | 'create-intro'
  | 'create-single'
  | 'create-multiple'
  | 'create-binary'
  | 'create-dockerconfigjson'
  | 'create-data-from'
  | 'create-gitops'
  | 'create-stringdata'
  | 'update-reapply'
  | 'plain-secret';

const cache = new Map<string, string>();

/** A fresh deep copy of a fixture's request: tests never share mutated state. */
export function fixture(name: FixtureName): AdmissionRequest & { object: Secret } {
  let text = cache.get(name);
  if (!text) {
    text = readFileSync(join(FIXTURES, `${name}.json`), 'utf8');
    cache.set(name, text);
  }
  return (JSON.parse(text) as { request: AdmissionRequest & { object: Secret } }).request;
}

export function fixtureReview(name: FixtureName): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

export const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
export const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

/** Decodes and applies the patch as the API server does; asserts its shape. */
export function applyPatch(object: Secret, result: AdmissionResult): Secret {
  if (!result.patch) return structuredClone(object);
  if (result.patchType !== 'JSONPatch') throw new Error(`patchType ${String(result.patchType)}`);
  const ops = JSON.parse(Buffer.from(result.patch, 'base64').toString('utf8')) as jsonpatch.Operation[];
  return jsonpatch.applyPatch(structuredClone(object), ops, true, false).newDocument as Secret;
}

export function patchText(result: AdmissionResult): string {
  return result.patch ? Buffer.from(result.patch, 'base64').toString('utf8') : '';
}

export function decodedData(secret: Secret): Record<string, string> {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, unb64(v)]));
}

export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } });
  return { logger, lines };
}

/** Everything a user or operator could read from a result: message and warnings. */
export function visibleText(result: AdmissionResult): string {
  return JSON.stringify({ status: result.status, warnings: result.warnings });
}
