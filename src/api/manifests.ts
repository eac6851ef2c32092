/** Multi-document YAML (or JSON) manifests, as `kubectl apply -f` reads them. */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { ownWords, parseErrorText } from '../observability/sanitize.ts';
import type { KubeObject } from './types.ts';

export interface ManifestDocument {
  file: string;
  index: number;
  object: KubeObject;
}

export class ManifestError extends Error {}
ownWords(ManifestError);

export function parseManifests(text: string, file = '<input>'): ManifestDocument[] {
  const out: ManifestDocument[] = [];
  const docs = parseAllDocuments(text);
  let index = 0;
  for (const doc of docs) {
    // The parser's messages quote the text, and these files hold credential Secrets: code and
    // position only.
    if (doc.errors.length > 0) {
      throw new ManifestError(`${file}: document ${index + 1} is ${parseErrorText(doc.errors[0])}`);
    }
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (err: unknown) {
      throw new ManifestError(`${file}: document ${index + 1}: ${parseErrorText(err)}`);
    }
    index++;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ManifestError(`${file}: document ${index} is not a Kubernetes object`);
    }
    const obj = value as KubeObject & { items?: unknown[] };
    // `kind: List` as `kubectl get -o yaml` prints it.
    if (obj.kind === 'List' && Array.isArray(obj.items)) {
      for (const item of obj.items) out.push({ file, index, object: item as KubeObject });
    } else {
      out.push({ file, index, object: obj });
    }
  }
  return out;
}

export async function loadManifestFiles(files: string[]): Promise<ManifestDocument[]> {
  const out: ManifestDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err: unknown) {
      throw new ManifestError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    out.push(...parseManifests(text, file));
  }
  return out;
}
