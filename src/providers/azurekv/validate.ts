/**
 * Static checks of `spec.provider.azurekv`: the CRD schema (vaultUrl required, authType and
 * environmentType enums), ESO's `ValidateStore` (referent rule, custom cloud settings) and the
 * credential combinations ESO's client would refuse on every sync (ServicePrincipal without
 * tenantId or client credentials, both a client secret and a certificate).
 */
import { type FieldError, fieldErrors } from '../../api/field-errors.ts';
import {
  checkEnum,
  optBoolean,
  optObject,
  optString,
  presentKeys,
  reqObject,
  reqString,
} from '../../api/schema.ts';
import {
  checkSecretKeySelector,
  checkServiceAccountSelector,
  checkUrl,
  type StoreContext,
  storeContext,
} from '../../api/store-refs.ts';
import type { StoreKind } from '../../api/types.ts';
import { checkAuthority } from './options.ts';

export const AZURE_AUTH_TYPES = ['ServicePrincipal', 'ManagedIdentity', 'WorkloadIdentity'] as const;
export const AZURE_ENVIRONMENTS = [
  'PublicCloud',
  'USGovernmentCloud',
  'ChinaCloud',
  'GermanCloud',
  'AzureStackCloud',
] as const;

const AUTH_REF_KEYS = ['clientId', 'clientSecret', 'clientCertificate', 'tenantId'] as const;

export function validateAzureKvStore(
  spec: unknown,
  path: string,
  kind: StoreKind,
  context?: Partial<StoreContext>,
): FieldError[] {
  const errors: FieldError[] = [];
  const ctx = storeContext(kind, context);
  const az = reqObject(spec, path, errors);
  if (!az) return errors;

  const vaultUrl = reqString(
    az.vaultUrl,
    `${path}.vaultUrl`,
    errors,
    'e.g. "https://my-vault.vault.azure.net"',
  );
  if (vaultUrl !== undefined) checkUrl(vaultUrl, `${path}.vaultUrl`, errors);

  const authType =
    az.authType === undefined || az.authType === null
      ? 'ServicePrincipal'
      : checkEnum(az.authType, `${path}.authType`, AZURE_AUTH_TYPES, errors);
  const env =
    az.environmentType === undefined
      ? undefined
      : checkEnum(az.environmentType, `${path}.environmentType`, AZURE_ENVIRONMENTS, errors);
  const tenantId = optString(az.tenantId, `${path}.tenantId`, errors);
  optString(az.identityId, `${path}.identityId`, errors);
  const useSdk = optBoolean(az.useAzureSDK, `${path}.useAzureSDK`, errors);

  const ref = optObject(az.authSecretRef, `${path}.authSecretRef`, errors);
  const refPath = `${path}.authSecretRef`;
  if (ref) {
    for (const k of AUTH_REF_KEYS) {
      if (ref[k] !== undefined && ref[k] !== null)
        checkSecretKeySelector(ref[k], `${refPath}.${k}`, errors, ctx);
    }
  }
  if (az.serviceAccountRef !== undefined && az.serviceAccountRef !== null) {
    checkServiceAccountSelector(az.serviceAccountRef, `${path}.serviceAccountRef`, errors, ctx);
  }

  if (authType === 'ServicePrincipal') {
    if (!tenantId)
      errors.push(
        fieldErrors.required(`${path}.tenantId`, 'authType ServicePrincipal needs the Azure tenant ID'),
      );
    if (!ref) {
      errors.push(
        fieldErrors.required(
          refPath,
          'authType ServicePrincipal needs authSecretRef.clientId and authSecretRef.clientSecret (or clientCertificate)',
        ),
      );
    } else {
      if (ref.clientId === undefined || ref.clientId === null) {
        errors.push(
          fieldErrors.required(`${refPath}.clientId`, 'authType ServicePrincipal needs the client ID'),
        );
      }
      const creds = presentKeys(ref, ['clientSecret', 'clientCertificate']);
      if (creds.length === 0) {
        errors.push(
          fieldErrors.required(
            `${refPath}.clientSecret`,
            'authType ServicePrincipal needs clientSecret or clientCertificate',
          ),
        );
      } else if (creds.length === 2) {
        errors.push(
          fieldErrors.forbidden(
            `${refPath}.clientCertificate`,
            'may not be set together with clientSecret: choose one',
          ),
        );
      }
    }
  } else if (authType === 'ManagedIdentity' && ref) {
    errors.push(
      fieldErrors.forbidden(
        refPath,
        'authType ManagedIdentity does not use authSecretRef; select the identity with identityId',
      ),
    );
  } else if (authType === 'WorkloadIdentity' && ref) {
    for (const k of presentKeys(ref, ['clientSecret', 'clientCertificate'])) {
      errors.push(
        fieldErrors.forbidden(
          `${refPath}.${k}`,
          'authType WorkloadIdentity uses a federated token; only clientId and tenantId may be referenced',
        ),
      );
    }
  }

  const custom = optObject(az.customCloudConfig, `${path}.customCloudConfig`, errors);
  if (custom) {
    if (useSdk !== true) {
      errors.push(
        fieldErrors.forbidden(
          `${path}.customCloudConfig`,
          'requires useAzureSDK: true (the legacy SDK does not support custom clouds)',
        ),
      );
    }
    const aad = reqString(
      custom.activeDirectoryEndpoint,
      `${path}.customCloudConfig.activeDirectoryEndpoint`,
      errors,
    );
    if (aad !== undefined) {
      try {
        checkAuthority(aad);
      } catch {
        errors.push(
          fieldErrors.invalid(
            `${path}.customCloudConfig.activeDirectoryEndpoint`,
            aad,
            'must be an https URL without credentials (the Azure SDKs take no other authority)',
          ),
        );
      }
    }
    for (const k of ['keyVaultEndpoint', 'keyVaultDNSSuffix', 'resourceManagerEndpoint']) {
      optString(custom[k], `${path}.customCloudConfig.${k}`, errors);
    }
  }
  if (env === 'GermanCloud' && useSdk === true) {
    errors.push(
      fieldErrors.forbidden(
        `${path}.environmentType`,
        'GermanCloud with useAzureSDK: true: Microsoft Cloud Deutschland was discontinued on 2021-10-29 and the Azure SDK has no endpoints for it (ESO refuses it too); use AzureStackCloud with customCloudConfig, or a public cloud',
      ),
    );
  }
  if (env === 'AzureStackCloud' && !custom) {
    errors.push(
      fieldErrors.required(
        `${path}.customCloudConfig`,
        'environmentType AzureStackCloud needs customCloudConfig',
      ),
    );
  }
  return errors;
}
