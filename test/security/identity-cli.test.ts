/**
 * Identity confinement through the CLI: `esw validate` refuses, in CI, a SecretStore that would
 * borrow the webhook's identity — with the same message the webhook gives — and accepts it for a
 * ClusterSecretStore or when given the same `--allow-ambient-identity-namespaces` as the server.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const ROOT = join(import.meta.dirname, '..', '..');

function esw(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'src', 'main.ts'), ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

const TENANT = `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: vault, namespace: team-a }
spec:
  provider:
    vault:
      server: https://vault.attacker.example:8200
      auth:
        kubernetes:
          role: anything
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: aws, namespace: team-a }
spec:
  provider:
    aws: { service: SecretsManager, region: eu-west-1 }
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: gcp, namespace: team-a }
spec:
  provider:
    gcpsm: { projectID: p }
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: { name: azure, namespace: team-a }
spec:
  provider:
    azurekv: { vaultUrl: "https://v.vault.azure.net", authType: ManagedIdentity }
`;

const CLUSTER = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata: { name: vault }
spec:
  provider:
    vault:
      server: https://vault.example:8200
      auth:
        kubernetes:
          role: webhook
`;

t.test('esw validate refuses borrowed identities, naming the field and what to set', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'esw-identity-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tenant = join(dir, 'tenant.yaml');
  const cluster = join(dir, 'cluster.yaml');
  await writeFile(tenant, TENANT);
  await writeFile(cluster, CLUSTER);

  const refused = await esw(['validate', tenant]);
  t.equal(refused.code, 1, refused.out);
  t.match(
    refused.out,
    `${tenant}:9: SecretStore/team-a/vault: spec.provider.vault.auth.kubernetes: Required value: a SecretStore must name secretRef or serviceAccountRef; otherwise this webhook would use its own ServiceAccount token`,
  );
  t.match(
    refused.out,
    `SecretStore/team-a/aws: spec.provider.aws.auth: Required value: a SecretStore must name auth.secretRef or auth.jwt`,
  );
  t.match(refused.out, `SecretStore/team-a/gcp: spec.provider.gcpsm.auth: Required value`);
  t.match(refused.out, `SecretStore/team-a/azure: spec.provider.azurekv.authType: Forbidden`);
  t.match(refused.out, '0 valid, 4 invalid');

  const clusterOk = await esw(['validate', cluster]);
  t.equal(clusterOk.code, 0, clusterOk.out);

  // The server's flag (or its env equivalent) makes the CLI validate as that server admits.
  const allowed = await esw(['validate', '--allow-ambient-identity-namespaces', 'team-*', tenant]);
  t.equal(allowed.code, 0, allowed.out);
  t.match(allowed.out, '4 valid, 0 invalid');
  const viaEnv = await esw(['validate', tenant], { ESW_ALLOW_AMBIENT_IDENTITY_NAMESPACES: 'other,team-a' });
  t.equal(viaEnv.code, 0, viaEnv.out);
  const other = await esw(['validate', '--allow-ambient-identity-namespaces', 'team-b', tenant]);
  t.equal(other.code, 1, 'another namespace listed: still refused');

  const bad = await esw(['validate', '--allow-ambient-identity-namespaces', 'Team_A', tenant]);
  t.equal(bad.code, 2, 'a malformed list is a usage error');
  t.match(bad.out, /--allow-ambient-identity-namespaces: "Team_A" is not a namespace name or glob/);
});
