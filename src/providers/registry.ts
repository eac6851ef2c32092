/**
 * Every provider this server knows, by its key under `spec.provider`. Adding a provider touches
 * its folder and one line here.
 *
 * The cloud SDKs are loaded on first use: together they weigh some 90 MiB of RSS, and most
 * installations talk to one or two of them. Static validation needs no SDK and stays eager.
 */

import type { FieldError } from '../api/field-errors.ts';
import type { StoreKind } from '../api/types.ts';
import { validateAwsStore } from './aws/validate.ts';
import { azureKvSelection } from './azurekv/objects.ts';
import { validateAzureKvStore } from './azurekv/validate.ts';
import { fakeProvider } from './fake/index.ts';
import { gcpSmSelection } from './gcpsm/metadata.ts';
import { validateGcpSmStore } from './gcpsm/validate.ts';
import type { Provider } from './types.ts';
import { vaultSelection } from './vault/metadata.ts';
import { validateVaultStore } from './vault/validate.ts';

type Validate = (spec: unknown, path: string, kind: StoreKind) => FieldError[];

/** A provider's pure selection rules, which need no SDK (see Provider.selectValue). */
type Selection = Pick<Provider, 'selectValue' | 'selectMap'>;

/** A provider whose module (and SDK) is imported the first time a client is needed. */
export function lazyProvider(
  name: string,
  validateStore: Validate,
  load: () => Promise<Provider>,
  selection: Selection = {},
): Provider {
  let loading: Promise<Provider> | undefined;
  return {
    name,
    validateStore,
    ...selection,
    newClient: async (spec, ctx) => {
      loading ??= load().catch((err: unknown) => {
        loading = undefined;
        throw err;
      });
      return (await loading).newClient(spec, ctx);
    },
  };
}

export function createProviders(): Map<string, Provider> {
  const all: Provider[] = [
    lazyProvider(
      'aws',
      validateAwsStore,
      async () => (await import('./aws/index.ts')).awsProvider as Provider,
    ),
    lazyProvider(
      'azurekv',
      validateAzureKvStore,
      async () => (await import('./azurekv/index.ts')).azureKvProvider as Provider,
      azureKvSelection as Selection,
    ),
    lazyProvider(
      'gcpsm',
      validateGcpSmStore,
      async () => (await import('./gcpsm/index.ts')).gcpSmProvider as Provider,
      gcpSmSelection as Selection,
    ),
    lazyProvider(
      'vault',
      validateVaultStore,
      async () => (await import('./vault/index.ts')).vaultProvider as Provider,
      vaultSelection as Selection,
    ),
    fakeProvider as Provider,
  ];
  return new Map(all.map((p) => [p.name, p]));
}
