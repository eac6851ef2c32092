/**
 * Static checks of `spec.provider.gcpsm`: ESO's `ValidateStore` (referent rule on the key file and
 * workload identity service account) and the CRD schema (workloadIdentity.serviceAccountRef
 * required). With a static key (`auth.secretRef`) ESO never falls back to the metadata server for
 * the project, so projectID is required there.
 */
import { type FieldError, fieldErrors } from '../../api/field-errors.ts';
import { optBoolean, optObject, optString, reqObject } from '../../api/schema.ts';
import {
  checkSecretKeySelector,
  checkServiceAccountSelector,
  type StoreContext,
  storeContext,
} from '../../api/store-refs.ts';
import type { StoreKind } from '../../api/types.ts';
import { GSA_EMAIL } from './workload-identity.ts';

// Only what can never name a project: ESO passes projectID through, so stay lenient.
const PROJECT_ID = /^[A-Za-z0-9.:_-]+$/;

export function validateGcpSmStore(
  spec: unknown,
  path: string,
  kind: StoreKind,
  context?: Partial<StoreContext>,
): FieldError[] {
  const errors: FieldError[] = [];
  const ctx = storeContext(kind, context);
  const gcp = reqObject(spec, path, errors);
  if (!gcp) return errors;

  const projectID = optString(gcp.projectID, `${path}.projectID`, errors);
  if (projectID && !PROJECT_ID.test(projectID)) {
    errors.push(
      fieldErrors.invalid(
        `${path}.projectID`,
        projectID,
        'must be a bare GCP project ID such as "my-project" (no "projects/" prefix, no spaces)',
      ),
    );
  }
  const location = optString(gcp.location, `${path}.location`, errors);
  if (location !== undefined && location !== '' && !/^[a-z0-9-]+$/.test(location)) {
    errors.push(
      fieldErrors.invalid(`${path}.location`, location, 'must be a GCP location such as "europe-west1"'),
    );
  }
  optBoolean(gcp.getLatestEnabledSecret, `${path}.getLatestEnabledSecret`, errors);

  const auth = optObject(gcp.auth, `${path}.auth`, errors);
  if (!auth) return errors;
  const ref = optObject(auth.secretRef, `${path}.auth.secretRef`, errors);
  if (ref) {
    checkSecretKeySelector(
      ref.secretAccessKeySecretRef,
      `${path}.auth.secretRef.secretAccessKeySecretRef`,
      errors,
      ctx,
    );
    if (!projectID) {
      errors.push(
        fieldErrors.required(
          `${path}.projectID`,
          'a static service account key (auth.secretRef) needs the project ID',
        ),
      );
    }
  }
  const wi = optObject(auth.workloadIdentity, `${path}.auth.workloadIdentity`, errors);
  if (wi) {
    const p = `${path}.auth.workloadIdentity`;
    checkServiceAccountSelector(wi.serviceAccountRef, `${p}.serviceAccountRef`, errors, ctx);
    optString(wi.clusterLocation, `${p}.clusterLocation`, errors);
    optString(wi.clusterName, `${p}.clusterName`, errors);
    optString(wi.clusterProjectID, `${p}.clusterProjectID`, errors);
  }
  const wif = optObject(auth.workloadIdentityFederation, `${path}.auth.workloadIdentityFederation`, errors);
  if (wif) validateFederation(wif, `${path}.auth.workloadIdentityFederation`, errors, ctx);
  return errors;
}

/**
 * ESO's rules for workloadIdentityFederation: exactly one of credConfig, serviceAccountRef or
 * awsSecurityCredentials, and `audience` with the latter two. credConfig itself is refused by
 * the field-support table (src/api/field-support.ts).
 */
function validateFederation(
  wif: Record<string, unknown>,
  p: string,
  errors: FieldError[],
  ctx: StoreContext,
) {
  const present = (k: string) => wif[k] !== undefined && wif[k] !== null;
  const sources = ['credConfig', 'serviceAccountRef', 'awsSecurityCredentials'].filter(present);
  if (sources.length !== 1) {
    errors.push(
      fieldErrors.invalid(
        p,
        sources.join(', ') || '(none)',
        'exactly one of credConfig, serviceAccountRef or awsSecurityCredentials must be set',
      ),
    );
  }
  const audience = optString(wif.audience, `${p}.audience`, errors);
  if (!audience && (present('serviceAccountRef') || present('awsSecurityCredentials'))) {
    errors.push(
      fieldErrors.required(
        `${p}.audience`,
        'the STS audience (the workload identity pool provider) is required with serviceAccountRef or awsSecurityCredentials',
      ),
    );
  }
  if (present('serviceAccountRef')) {
    checkServiceAccountSelector(wif.serviceAccountRef, `${p}.serviceAccountRef`, errors, ctx);
  }
  const aws = optObject(wif.awsSecurityCredentials, `${p}.awsSecurityCredentials`, errors);
  if (aws) {
    checkSecretKeySelector(
      aws.awsCredentialsSecretRef,
      `${p}.awsSecurityCredentials.awsCredentialsSecretRef`,
      errors,
      ctx,
      { requireKey: false },
    );
    const region = optString(aws.region, `${p}.awsSecurityCredentials.region`, errors);
    if (!region) errors.push(fieldErrors.required(`${p}.awsSecurityCredentials.region`, 'the AWS region'));
  }
  const email = optString(wif.gcpServiceAccountEmail, `${p}.gcpServiceAccountEmail`, errors);
  if (email !== undefined && !GSA_EMAIL.test(email)) {
    errors.push(
      fieldErrors.invalid(
        `${p}.gcpServiceAccountEmail`,
        email,
        'must be a service account email such as my-gsa@my-project.iam.gserviceaccount.com',
      ),
    );
  }
}
