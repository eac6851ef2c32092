/**
 * Every provider this server knows, by its key under `spec.provider`. Adding a provider touches
 * its folder and one line here.
 */
import { awsProvider } from './aws/index.ts';
import { azureKvProvider } from './azurekv/index.ts';
import { fakeProvider } from './fake/index.ts';
import { gcpSmProvider } from './gcpsm/index.ts';
import type { Provider } from './types.ts';
import { vaultProvider } from './vault/index.ts';

export function createProviders(): Map<string, Provider> {
  const all: Provider[] = [
    awsProvider as Provider,
    azureKvProvider as Provider,
    gcpSmProvider as Provider,
    vaultProvider as Provider,
    fakeProvider as Provider,
  ];
  return new Map(all.map((p) => [p.name, p]));
}
