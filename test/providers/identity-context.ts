/**
 * The identity part of a provider ClientContext for tests that build one by hand: `strict` is a
 * SecretStore in a namespace no admin allowed (every fallback to this server's identity is
 * refused, as the resolver's context does); `ambient` is a ClusterSecretStore's.
 */
import { EswError } from '../../src/errors.ts';

export const strictIdentity = {
  requireAmbientIdentity(field: string, identity: string): void {
    throw new EswError('ESW_IDENTITY_FORBIDDEN', `${field}: ${identity} is this server's own identity`);
  },
  allowGcpExternalAccount: false,
};

export const ambientIdentity = {
  requireAmbientIdentity(): void {},
  allowGcpExternalAccount: false,
};
