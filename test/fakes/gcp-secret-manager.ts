/**
 * A wire-level fake of GCP Secret Manager: a real gRPC server (@grpc/grpc-js) whose messages are
 * encoded with the `protos.json` shipped in @google-cloud/secret-manager, so the real
 * SecretManagerServiceClient talks to it unchanged (`apiEndpoint`, `port`, insecure channel).
 *
 * Implements AccessSecretVersion, ListSecrets (labels / name filters, pagination) and GetSecret
 * (labels and annotations, for metadataPolicy Fetch).
 * Secrets live under a parent (`projects/<p>` or `projects/<p>/locations/<l>`) with numbered
 * versions; versions can be disabled. The fake counts calls per method and per secret, and
 * injects faults: a gRPC status for a secret (optionally only the next N calls), a delay.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { crc32c } from '../../src/providers/gcpsm/crc32c.ts';

const require = createRequire(import.meta.url);
const PROTOS = require.resolve('@google-cloud/secret-manager/build/protos/protos.json');
const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';

/** gRPC status codes used by the tests (same numbers as google-gax's Status). */
export const GrpcCode = grpc.status;

interface Version {
  data: Buffer;
  enabled: boolean;
}

interface StoredSecret {
  parent: string;
  id: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  versions: Version[];
}

export interface Fault {
  code: grpc.status;
  /** Only the next `times` calls fail; forever when absent. */
  times?: number;
  /** Status details sent to the client (tests put canaries here). */
  details?: string;
}

export interface SecretInit {
  project: string;
  location?: string;
  id: string;
  /** Version 1, 2, … in order. Strings are UTF-8. */
  versions: (string | Uint8Array)[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

type Method = 'AccessSecretVersion' | 'ListSecrets' | 'GetSecret';

export class GcpSecretManagerFake {
  readonly #secrets = new Map<string, StoredSecret>();
  readonly #faults = new Map<string, Fault>();
  readonly #server = new grpc.Server();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Calls per method. */
  readonly calls: Record<Method, number> = { AccessSecretVersion: 0, ListSecrets: 0, GetSecret: 0 };
  /** AccessSecretVersion calls per secret id. */
  readonly accessCalls = new Map<string, number>();
  /** Every resource name AccessSecretVersion received, in order. */
  readonly accessedNames: string[] = [];
  /** Every ListSecrets request (parent, filter, pageToken). */
  readonly listRequests: { parent: string; filter: string; pageToken: string }[] = [];
  /** `authorization` metadata the client sent (none on the insecure test channel). */
  readonly authorizations: string[] = [];
  /** Calls the client cancelled before the answer (deadline, abort). */
  cancelled = 0;
  /** Secret ids whose payload checksum is sent wrong. */
  readonly corruptChecksums = new Set<string>();
  /**
   * Access control (TLS tests): given the call's `authorization` and the resource it names
   * (`name` or `parent`), a status to refuse it with, or undefined to serve it.
   */
  authorize: ((authorization: string | undefined, resource: string) => grpc.status | undefined) | undefined;
  /** Delay before every answer, in ms. */
  delayMs = 0;
  /** Largest page ListSecrets returns, whatever the client asks (forces pagination). */
  maxPageSize = 100;
  host = '127.0.0.1';
  port = 0;

  constructor() {
    const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(PROTOS, 'utf8')));
    const service = root.lookupService(SERVICE);
    const definition: Record<string, grpc.MethodDefinition<object, unknown>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    const impl: Record<Method, (req: Record<string, unknown>) => unknown> = {
      AccessSecretVersion: (req) => this.#access(String(req.name)),
      ListSecrets: (req) => this.#list(req),
      GetSecret: (req) => this.#get(String(req.name)),
    };
    for (const name of Object.keys(impl) as Method[]) {
      const method = service.methods[name];
      if (!method) throw new Error(`protos.json has no ${SERVICE}.${name}`);
      method.resolve();
      const reqType = method.resolvedRequestType;
      const resType = method.resolvedResponseType;
      if (!reqType || !resType) throw new Error(`cannot resolve ${name}`);
      definition[name] = {
        path: `/${SERVICE}/${name}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: object) => Buffer.from(reqType.encode(reqType.fromObject(v)).finish()),
        requestDeserialize: (b: Buffer) => reqType.toObject(reqType.decode(b), { defaults: true }),
        responseSerialize: (v: unknown) =>
          Buffer.from(resType.encode(resType.fromObject(v as object)).finish()),
        responseDeserialize: (b: Buffer) => resType.toObject(resType.decode(b), { defaults: true }),
      };
      handlers[name] = (
        call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        this.calls[name]++;
        for (const v of call.metadata.get('authorization')) this.authorizations.push(String(v));
        call.on('cancelled', () => {
          this.cancelled++;
        });
        const answer = () => {
          const refusal = this.authorize?.(
            call.metadata.get('authorization').map(String)[0],
            String(call.request.name ?? call.request.parent ?? ''),
          );
          if (refusal !== undefined) {
            callback({ code: refusal, details: 'The caller does not have permission' });
            return;
          }
          try {
            callback(null, impl[name](call.request));
          } catch (err: unknown) {
            if (err instanceof StatusError) callback({ code: err.code, details: err.details });
            else callback({ code: grpc.status.INTERNAL, details: 'fake failure' });
          }
        };
        if (this.delayMs <= 0) return answer();
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          if (!call.cancelled) answer();
        }, this.delayMs);
        this.#timers.add(timer);
      };
    }
    this.#server.addService(definition, handlers);
  }

  /**
   * Listens on 127.0.0.1. With `tls` the channel is TLS, so a client that is not told to use an
   * insecure channel runs its auth client and sends `authorization` (see `authorizations`).
   */
  async start(opts: { tls?: { cert: string; key: string } } = {}): Promise<{ host: string; port: number }> {
    const creds = opts.tls
      ? grpc.ServerCredentials.createSsl(null, [
          { cert_chain: Buffer.from(opts.tls.cert), private_key: Buffer.from(opts.tls.key) },
        ])
      : grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(`${this.host}:0`, creds, (err, port) => (err ? reject(err) : resolve(port)));
    });
    return { host: this.host, port: this.port };
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#server.forceShutdown();
  }

  addSecret(init: SecretInit): void {
    const parent = parentOf(init.project, init.location);
    this.#secrets.set(`${parent}/secrets/${init.id}`, {
      parent,
      id: init.id,
      labels: init.labels ?? {},
      annotations: init.annotations ?? {},
      versions: init.versions.map((v) => ({ data: toBuffer(v), enabled: true })),
    });
  }

  /** Adds a version; returns its number. */
  addVersion(project: string, id: string, value: string | Uint8Array, location?: string): number {
    const s = this.#secrets.get(`${parentOf(project, location)}/secrets/${id}`);
    if (!s) throw new Error(`no secret ${id}`);
    s.versions.push({ data: toBuffer(value), enabled: true });
    return s.versions.length;
  }

  disableVersion(project: string, id: string, version: number): void {
    const v = this.#secrets.get(`${parentOf(project)}/secrets/${id}`)?.versions[version - 1];
    if (v) v.enabled = false;
  }

  /** Every call naming secret `id` fails with `fault.code` (or `*` for ListSecrets). */
  setFault(id: string, fault: Fault): void {
    this.#faults.set(id, { ...fault });
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  #fault(id: string): void {
    const f = this.#faults.get(id);
    if (!f) return;
    if (f.times !== undefined) {
      if (f.times <= 0) return;
      f.times--;
    }
    throw new StatusError(f.code, f.details ?? `injected ${grpc.status[f.code]}`);
  }

  #access(name: string): unknown {
    this.accessedNames.push(name);
    const m = /^(projects\/[^/]+(?:\/locations\/[^/]+)?)\/secrets\/([^/]+)\/versions\/([^/]+)$/.exec(name);
    if (!m) throw new StatusError(grpc.status.INVALID_ARGUMENT, `invalid resource name [${name}]`);
    const [, parent, id, version] = m as unknown as [string, string, string, string];
    this.accessCalls.set(id, (this.accessCalls.get(id) ?? 0) + 1);
    this.#fault(id);
    const secret = this.#secrets.get(`${parent}/secrets/${id}`);
    if (!secret) throw new StatusError(grpc.status.NOT_FOUND, `Secret [${parent}/secrets/${id}] not found.`);
    let index: number;
    if (version === 'latest') {
      index = secret.versions.length - 1;
    } else if (/^[1-9][0-9]*$/.test(version)) {
      index = Number(version) - 1;
    } else {
      throw new StatusError(grpc.status.INVALID_ARGUMENT, `invalid version [${version}]`);
    }
    const v = secret.versions[index];
    if (!v) throw new StatusError(grpc.status.NOT_FOUND, `Secret Version [${name}] not found.`);
    if (!v.enabled) {
      throw new StatusError(
        grpc.status.FAILED_PRECONDITION,
        `Secret Version [${name}] is in DISABLED state.`,
      );
    }
    // Secret Manager sends the CRC32C of the payload; `corruptChecksums` damages it on purpose.
    const crc = crc32c(v.data);
    const dataCrc32c = String(this.corruptChecksums.has(id) ? (crc + 1) % 2 ** 32 : crc);
    return { name: `${parent}/secrets/${id}/versions/${index + 1}`, payload: { data: v.data, dataCrc32c } };
  }

  #get(name: string): unknown {
    const secret = this.#secrets.get(name);
    const id = name.split('/').pop() ?? '';
    this.#fault(id);
    if (!secret) throw new StatusError(grpc.status.NOT_FOUND, `Secret [${name}] not found.`);
    return { name, labels: secret.labels, annotations: secret.annotations };
  }

  #list(req: Record<string, unknown>): unknown {
    const parent = String(req.parent ?? '');
    const filter = String(req.filter ?? '');
    const pageToken = String(req.pageToken ?? '');
    this.listRequests.push({ parent, filter, pageToken });
    this.#fault('*');
    const matches = [...this.#secrets.values()]
      .filter((s) => s.parent === parent && matchesFilter(s, filter))
      .sort((a, b) => a.id.localeCompare(b.id));
    const requested = Number(req.pageSize ?? 0);
    const size = Math.min(requested > 0 ? requested : this.maxPageSize, this.maxPageSize);
    const start = pageToken ? Number(pageToken) : 0;
    const page = matches.slice(start, start + size);
    const next = start + size < matches.length ? String(start + size) : '';
    return {
      secrets: page.map((s) => ({ name: `${s.parent}/secrets/${s.id}`, labels: s.labels })),
      nextPageToken: next,
      totalSize: matches.length,
    };
  }
}

class StatusError extends Error {
  readonly code: grpc.status;
  readonly details: string;
  constructor(code: grpc.status, details: string) {
    super(details);
    this.code = code;
    this.details = details;
  }
}

function parentOf(project: string, location?: string): string {
  return location ? `projects/${project}/locations/${location}` : `projects/${project}`;
}

function toBuffer(v: string | Uint8Array): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
}

/**
 * The subset of the Secret Manager filter language the provider sends: space-separated terms
 * joined by AND, `labels.<k>=<v>` (exact), `labels.<k>:<v>` (has), `name:<text>` (contains).
 */
function matchesFilter(s: StoredSecret, filter: string): boolean {
  for (const term of filter.split(/\s+/).filter(Boolean)) {
    if (term === 'AND') continue;
    const label = /^labels\.([^=:]+)([=:])(.*)$/.exec(term);
    if (label) {
      const [, k, op, v] = label as unknown as [string, string, string, string];
      const have = s.labels[k];
      if (have === undefined) return false;
      if (op === '=' ? have !== v : !have.includes(v)) return false;
      continue;
    }
    const name = /^name:(.*)$/.exec(term);
    if (name) {
      if (!s.id.includes(name[1] ?? '')) return false;
      continue;
    }
    throw new StatusError(grpc.status.INVALID_ARGUMENT, `invalid filter term [${term}]`);
  }
  return true;
}
