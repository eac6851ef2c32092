/**
 * The `fake` provider, after the External Secrets Operator's: values come inline from the store
 * (`spec.provider.fake.data[] {key, value, valueMap, version}`). It backs the embedded default
 * (examples/) and many tests; it never touches the network.
 *
 * - getSecret: the entry with that key and version. Without a version: the entry without one,
 *   else the last entry of that key. A later entry with the same key and version wins.
 * - findSecrets: by `name.regexp` only, the newest version of each matching key (versions
 *   compared as strings, as ESO does).
 * - `valueMap` (deprecated in ESO) is served as its JSON text when `value` is absent.
 */
import type { FakeProvider, FindRef } from '../../api/types.ts';
import { compileNameRegexp } from '../find-name.ts';
import {
  type CallOptions,
  type Provider,
  type ProviderClient,
  ProviderError,
  type RemoteKey,
} from '../types.ts';
import { validateFakeStore } from './validate.ts';

interface Entry {
  key: string;
  version: string;
  value: Uint8Array;
}

const encoder = new TextEncoder();

export class FakeClient implements ProviderClient {
  readonly #entries: Entry[];

  constructor(spec: FakeProvider) {
    this.#entries = [];
    for (const d of spec.data ?? []) {
      if (!d?.key) continue;
      const text = d.value ?? (d.valueMap ? JSON.stringify(d.valueMap) : '');
      this.#entries.push({ key: d.key, version: d.version ?? '', value: encoder.encode(text) });
    }
  }

  async getSecret(ref: RemoteKey, opts: CallOptions): Promise<Uint8Array> {
    checkSignal(opts.signal, ref.key);
    const version = ref.version ?? '';
    let found: Entry | undefined;
    let lastOfKey: Entry | undefined;
    for (const e of this.#entries) {
      if (e.key !== ref.key) continue;
      lastOfKey = e;
      if (e.version === version) found = e;
    }
    if (!found && !version) found = lastOfKey;
    if (!found) {
      const at = version ? ` at version "${version}"` : '';
      throw new ProviderError('NotFound', `fake: secret "${ref.key}"${at} does not exist`);
    }
    return found.value;
  }

  async findSecrets(find: FindRef, opts: CallOptions): Promise<Map<string, Uint8Array>> {
    checkSignal(opts.signal, 'find');
    const source = find.name?.regexp;
    if (source === undefined) {
      throw new ProviderError('Invalid', 'fake: dataFrom.find supports name.regexp only');
    }
    const re = compileNameRegexp(source);
    const newest = new Map<string, Entry>();
    for (const e of this.#entries) {
      if (!re.test(e.key)) continue;
      const current = newest.get(e.key);
      if (!current || current.version <= e.version) newest.set(e.key, e);
    }
    return new Map([...newest].map(([k, e]) => [k, e.value]));
  }

  async close(): Promise<void> {}
}

function checkSignal(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new ProviderError('Unavailable', `fake: request for "${what}" aborted`);
}

export const fakeProvider: Provider<FakeProvider> = {
  name: 'fake',
  validateStore: validateFakeStore,
  async newClient(spec: FakeProvider): Promise<ProviderClient> {
    return new FakeClient(spec ?? {});
  },
};
