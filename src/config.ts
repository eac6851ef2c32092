/**
 * Flags and environment -> typed configuration, for every command, from one table (`FLAGS`).
 * The table drives the parser (node:util parseArgs), the conversion of values and defaults, and
 * the `--help` text, so what help says and what the parser does cannot disagree. Flags win over
 * environment variables, which win over defaults.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from './api/duration.ts';
import { type IdentityPolicy, parseNamespacePatterns } from './api/identity.ts';
import { HANDOVER_MARGIN, renewDeadlineLimitMs } from './kube/shards.ts';
import { ownWords } from './observability/sanitize.ts';
import { parseGenericTargetKinds } from './refresher/generic-target.ts';
import { BODY_LIMIT, defaultInflightBytes, memoryLimit, parseBytes } from './server/request-bounds.ts';

export const DEFAULT_CERT_DIR = 'certs';
/** The stores `esw serve` reads in standalone mode when none are named (the README's demo). */
export const DEFAULT_STORES = 'examples/stores.yaml';

export const COMMANDS = {
  serve: {
    usage: 'esw serve [flags]',
    summary: 'Run the admission webhook (HTTPS) and, in cluster mode, the refresher.',
    detail: [
      'Cluster mode with --kubeconfig, or inside a pod (KUBERNETES_SERVICE_HOST is set) when no',
      '--stores are named; otherwise standalone: stores come from files (default',
      `${DEFAULT_STORES}) and the server binds 127.0.0.1 unless --host says otherwise.`,
    ],
  },
  validate: {
    usage: 'esw validate [flags] PATH...',
    summary: 'Validate ExternalSecret, SecretStore, ClusterSecretStore and placeholder Secret manifests.',
    detail: [
      'PATH is a file, a directory (searched recursively for .yaml, .yml and .json) or - for',
      'standard input. Exit 0 valid, 1 invalid (with --strict: also an unknown field, label,',
      'annotation or kind), 2 unreadable or not YAML.',
    ],
  },
  render: {
    usage: 'esw render [flags] FILE --stores FILE...',
    summary: 'Print the Secret the webhook would store for each placeholder Secret in FILE.',
    detail: [
      'Stores come from files, as in standalone mode. A Secret the webhook would not fill (no',
      'esw.io/inject label) is refused. Exit 0 rendered, 1 refused, 2 unreadable.',
    ],
  },
  certs: {
    usage: 'esw certs [flags] --out DIR --dns NAME...',
    summary: 'Write a CA (ca.crt, ca.key) and a serving certificate (tls.crt, tls.key) with those SANs.',
    detail: ['An existing CA in DIR is kept: the command refuses unless --force is given.'],
  },
} as const;

export type CommandName = keyof typeof COMMANDS;

/** How a flag's text becomes a value; `oneOf` lists the accepted words. */
export type FlagKind =
  | 'string'
  | 'strings'
  | 'boolean'
  | 'port'
  | 'duration'
  | 'days'
  | 'count'
  | { oneOf: readonly string[] };

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  short?: string;
  commands: readonly CommandName[];
  kind: FlagKind;
  /** The environment variable read when the flag is absent. */
  env?: string;
  /** The default as a user would type it; converted by the same code as the flag. */
  default?: string;
  /** Shown instead of `default` when the default is computed. */
  defaultText?: string;
  /** Placeholder in help (`FILE`, `DURATION`…). */
  value?: string;
  help: string;
}

const SERVE = ['serve'] as const;

export const FLAGS: readonly FlagSpec[] = [
  // serve: listener and certificates
  {
    name: 'port',
    commands: SERVE,
    kind: 'port',
    env: 'ESW_PORT',
    default: '8443',
    value: 'PORT',
    help: 'HTTPS port',
  },
  {
    name: 'host',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_HOST',
    defaultText: '127.0.0.1 standalone, 0.0.0.0 in cluster mode',
    value: 'ADDRESS',
    help: 'address to bind',
  },
  {
    name: 'tls-cert',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_TLS_CERT',
    defaultText: `${DEFAULT_CERT_DIR}/tls.crt, created with a development CA on first start`,
    value: 'FILE',
    help: 'serving certificate (PEM), reloaded when the file changes',
  },
  {
    name: 'tls-key',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_TLS_KEY',
    defaultText: `${DEFAULT_CERT_DIR}/tls.key`,
    value: 'FILE',
    help: 'private key of the serving certificate (PEM)',
  },
  {
    name: 'client-ca',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_CLIENT_CA',
    value: 'FILE',
    help: 'mutual TLS: clients must present a certificate signed by this CA',
  },
  {
    name: 'cert-mode',
    commands: SERVE,
    kind: { oneOf: ['files', 'builtin'] },
    env: 'ESW_CERT_MODE',
    default: 'files',
    value: 'MODE',
    help: 'files: read --tls-cert/--tls-key; builtin: cluster mode keeps them in a Secret',
  },
  {
    name: 'cert-secret',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_CERT_SECRET',
    default: 'external-secrets-webhook-tls',
    value: 'NAME',
    help: 'builtin certificate mode: the Secret holding the CA and serving certificate',
  },
  {
    name: 'webhook-service',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_WEBHOOK_SERVICE',
    default: 'external-secrets-webhook',
    value: 'NAME',
    help: 'the Service the certificate names (NAME, NAME.NAMESPACE.svc, …)',
  },
  {
    name: 'mutating-webhook',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_MUTATING_WEBHOOK',
    default: 'external-secrets-webhook',
    value: 'NAME',
    help: 'builtin certificate mode: the MutatingWebhookConfiguration whose caBundle is kept',
  },
  {
    name: 'validating-webhook',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_VALIDATING_WEBHOOK',
    default: 'external-secrets-webhook',
    value: 'NAME',
    help: 'builtin certificate mode: the ValidatingWebhookConfiguration whose caBundle is kept',
  },
  // serve: where stores come from
  {
    name: 'kubeconfig',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_KUBECONFIG',
    value: 'FILE',
    help: 'cluster mode against this kubeconfig (KUBECONFIG alone never switches modes)',
  },
  {
    name: 'stores',
    commands: ['serve', 'render'],
    kind: 'strings',
    env: 'ESW_STORES',
    defaultText: `serve: ${DEFAULT_STORES} when it exists`,
    value: 'FILE...',
    help: 'standalone: manifests of stores and their credential Secrets (env: comma-separated)',
  },
  {
    name: 'namespace',
    commands: SERVE,
    kind: 'string',
    env: 'POD_NAMESPACE',
    default: 'external-secrets-webhook',
    value: 'NAMESPACE',
    help: "the webhook's own namespace (Lease, certificate Secret)",
  },
  {
    name: 'pod-name',
    commands: SERVE,
    kind: 'string',
    env: 'POD_NAME',
    defaultText: '$HOSTNAME, else esw-<pid>',
    value: 'NAME',
    help: 'identity in the refresher Lease',
  },
  {
    name: 'controller-class',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_CONTROLLER_CLASS',
    default: 'default',
    value: 'CLASS',
    help: 'serve stores whose spec.controller is CLASS ("default" also serves stores naming none, as ESO\'s default controller) and the ExternalSecrets and placeholder Secrets using them; leave the others to ESO',
  },
  // serve: refresher
  {
    name: 'no-refresher',
    commands: SERVE,
    kind: 'boolean',
    env: 'ESW_NO_REFRESHER',
    default: 'false',
    help: 'cluster mode: admission only, never refresh (env: 1, true or yes)',
  },
  // serve and validate: generic targets (docs/refresher.md "Generic targets")
  {
    name: 'generic-target-kinds',
    commands: ['serve', 'validate'],
    kind: 'string',
    env: 'ESW_GENERIC_TARGET_KINDS',
    value: 'KINDS',
    help: 'kinds an ExternalSecret may write through spec.target.manifest, comma-separated (ConfigMap; group/version/Kind); cluster mode: none by default, and secret values land in them (grant RBAC per kind); standalone and validate: checked only when given',
  },
  // serve: POST /refresh (docs/push-refresh.md)
  {
    name: 'refresh-endpoint',
    commands: SERVE,
    kind: 'boolean',
    env: 'ESW_REFRESH_ENDPOINT',
    default: 'false',
    help: 'cluster mode: serve POST /refresh on --refresh-port, for callers with a Kubernetes token allowed "create" on secretstores/refresh (env: 1, true or yes)',
  },
  {
    name: 'refresh-port',
    commands: SERVE,
    kind: 'port',
    env: 'ESW_REFRESH_PORT',
    default: '8444',
    value: 'PORT',
    help: 'HTTPS port of POST /refresh (same certificate, no client CA), with --refresh-endpoint',
  },
  {
    name: 'refresh-caller-interval',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_REFRESH_CALLER_INTERVAL',
    default: '5s',
    value: 'DURATION',
    help: 'POST /refresh: one request per caller per DURATION on average, bursts of up to 5; more is answered 429',
  },
  {
    name: 'refresh-audience',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_REFRESH_AUDIENCE',
    value: 'AUDIENCE',
    help: "POST /refresh: accept only tokens issued for this audience (TokenReview audiences); default the API server's",
  },
  // serve: Event Grid deliveries (docs/push-refresh.md "Azure: Event Grid → the webhook")
  {
    name: 'event-grid-endpoint',
    commands: SERVE,
    kind: 'boolean',
    env: 'ESW_EVENT_GRID_ENDPOINT',
    default: 'false',
    help: 'cluster mode: take Azure Key Vault events from Event Grid on --refresh-port (/events/azure/…), for stores annotated esw.io/change-feed: event-grid, each authenticated by its own secret (env: 1, true or yes)',
  },
  {
    name: 'lease-name',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_LEASE_NAME',
    default: 'external-secrets-webhook-refresher',
    value: 'NAME',
    help: 'the Lease the refresher leader holds (with --shards N > 1: the prefix of the shard and member Leases)',
  },
  {
    name: 'shards',
    commands: SERVE,
    kind: 'count',
    env: 'ESW_SHARDS',
    default: '1',
    value: 'N',
    help: 'split refresh work into N shards, each owned through its own Lease, shared by every replica (1: one Lease, one replica refreshes everything)',
  },
  {
    name: 'lease-duration',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_LEASE_DURATION',
    default: '15s',
    value: 'DURATION',
    help: 'how long a Lease stays valid without renewal',
  },
  {
    name: 'renew-deadline',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_RENEW_DEADLINE',
    default: '10s',
    value: 'DURATION',
    help: 'a replica stops writing, then gives up a Lease it cannot renew within this (below 90 % of --lease-duration)',
  },
  {
    name: 'retry-period',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_RETRY_PERIOD',
    default: '2s',
    value: 'DURATION',
    help: 'how often candidates try to take the Lease',
  },
  // serve: budgets
  {
    name: 'admission-deadline',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_ADMISSION_DEADLINE',
    default: '8s',
    value: 'DURATION',
    help: "deadline of one admission's provider lookups (below the webhooks' timeoutSeconds)",
  },
  {
    name: 'cache-ttl',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_CACHE_TTL',
    default: '30s',
    value: 'DURATION',
    help: 'how long a fetched remote value is reused',
  },
  {
    name: 'credentials-recheck',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_CREDENTIALS_RECHECK',
    default: '10m',
    value: 'DURATION',
    help: 'cluster mode: how long a client trusts its credential Secrets before a lookup re-reads them (0: never)',
  },
  {
    name: 'shutdown-delay',
    commands: SERVE,
    kind: 'duration',
    env: 'ESW_SHUTDOWN_DELAY',
    default: '0s',
    value: 'DURATION',
    help: 'after SIGTERM, keep serving this long (readiness failing) before closing',
  },
  {
    name: 'max-inflight-bytes',
    commands: SERVE,
    kind: 'string',
    env: 'ESW_MAX_INFLIGHT_BYTES',
    defaultText: '1/16 of the memory limit (ESW_MEMORY_LIMIT, else the cgroup), at least 6Mi',
    value: 'SIZE',
    help: 'body bytes all admission requests in flight may hold together (e.g. 48Mi); more is answered 429 before the body is read',
  },
  {
    name: 'log-level',
    commands: SERVE,
    kind: { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
    env: 'ESW_LOG_LEVEL',
    default: 'info',
    value: 'LEVEL',
    help: 'log level (JSON lines on stdout)',
  },
  // serve and validate: identity confinement (docs/install.md, "Identity")
  {
    name: 'allow-ambient-identity-namespaces',
    commands: ['serve', 'validate'],
    kind: 'string',
    env: 'ESW_ALLOW_AMBIENT_IDENTITY_NAMESPACES',
    value: 'NS,GLOB...',
    help: "namespaces whose SecretStores may use the webhook's own ServiceAccount token and cloud identity (names and * globs, comma-separated); by default only ClusterSecretStores may",
  },
  {
    name: 'allow-gcp-external-account',
    commands: ['serve', 'validate'],
    kind: 'boolean',
    env: 'ESW_ALLOW_GCP_EXTERNAL_ACCOUNT',
    default: 'false',
    help: 'gcpsm credential Secrets may hold external_account JSON (never with a credential_source)',
  },
  // validate
  {
    name: 'strict',
    commands: ['validate'],
    kind: 'boolean',
    default: 'false',
    help: 'unknown fields, labels, annotations and kinds are errors, not warnings',
  },
  {
    name: 'strict',
    commands: ['render'],
    kind: 'boolean',
    default: 'false',
    help: 'a Secret rendered with warnings is refused',
  },
  {
    name: 'output',
    short: 'o',
    commands: ['validate'],
    kind: { oneOf: ['text', 'json'] },
    default: 'text',
    value: 'FORMAT',
    help: 'text (one line per problem) or json (for CI tools)',
  },
  // certs
  {
    name: 'out',
    commands: ['certs'],
    kind: 'string',
    value: 'DIR',
    help: 'directory to write the files to (required)',
  },
  {
    name: 'dns',
    commands: ['certs'],
    kind: 'strings',
    value: 'NAME...',
    help: 'DNS names or IP addresses of the serving certificate (required)',
  },
  {
    name: 'days',
    commands: ['certs'],
    kind: 'days',
    default: '365',
    value: 'N',
    help: 'validity of the serving certificate in days (1 to 3650)',
  },
  {
    name: 'force',
    commands: ['certs'],
    kind: 'boolean',
    default: 'false',
    help: 'replace an existing CA in DIR',
  },
  // every command
  {
    name: 'help',
    short: 'h',
    commands: ['serve', 'validate', 'render', 'certs'],
    kind: 'boolean',
    help: 'print this help',
  },
];

export class ConfigError extends Error {}
ownWords(ConfigError);

/** Flags, positionals and the environment of one command line, read through the table. */
export class CommandLine {
  readonly command: CommandName;
  readonly positionals: string[];
  readonly #values: Record<string, string | boolean | string[] | undefined>;
  readonly #env: NodeJS.ProcessEnv;

  constructor(command: CommandName, argv: string[], env: NodeJS.ProcessEnv = process.env) {
    this.command = command;
    this.#env = env;
    const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
    for (const f of flagsOf(command)) {
      options[f.name] = {
        type: f.kind === 'boolean' ? 'boolean' : 'string',
        ...(f.kind === 'strings' ? { multiple: true } : {}),
        ...(f.short ? { short: f.short } : {}),
      };
    }
    try {
      const { values, positionals } = parseArgs({
        args: argv,
        options,
        allowPositionals: true,
        strict: true,
      });
      this.#values = values as Record<string, string | boolean | string[] | undefined>;
      this.positionals = positionals;
    } catch (err: unknown) {
      throw new ConfigError(parseArgsProblem(err));
    }
  }

  get help(): boolean {
    return this.#values.help === true;
  }

  /** The flag's text, else its environment variable, else undefined (no default applied). */
  raw(name: string): string | string[] | boolean | undefined {
    const spec = flagSpec(this.command, name);
    const given = this.#values[name];
    if (given !== undefined) return given;
    const fromEnv = spec.env ? this.#env[spec.env] : undefined;
    if (fromEnv === undefined || fromEnv === '') return undefined;
    if (spec.kind === 'boolean') return ['1', 'true', 'yes'].includes(fromEnv.toLowerCase());
    if (spec.kind === 'strings') return fromEnv.split(',').filter(Boolean);
    return fromEnv;
  }

  /** True when neither the flag nor its environment variable was given. */
  isDefault(name: string): boolean {
    return this.raw(name) === undefined;
  }

  string(name: string): string | undefined {
    const v = this.raw(name) ?? flagSpec(this.command, name).default;
    if (v === undefined) return undefined;
    return convert(flagSpec(this.command, name), v) as string;
  }

  strings(name: string): string[] {
    const v = this.raw(name);
    return Array.isArray(v) ? v : [];
  }

  boolean(name: string): boolean {
    const v = this.raw(name) ?? flagSpec(this.command, name).default;
    return v === true || v === 'true';
  }

  number(name: string): number {
    const spec = flagSpec(this.command, name);
    const v = this.raw(name) ?? spec.default;
    if (v === undefined) throw new ConfigError(`--${name} has no default`);
    return convert(spec, v) as number;
  }
}

export function flagsOf(command: CommandName): FlagSpec[] {
  return FLAGS.filter((f) => f.commands.includes(command));
}

function flagSpec(command: CommandName, name: string): FlagSpec {
  const spec = FLAGS.find((f) => f.name === name && f.commands.includes(command));
  if (!spec) throw new Error(`no flag --${name} for ${command}`);
  return spec;
}

function convert(spec: FlagSpec, raw: string | string[] | boolean): string | number | boolean | string[] {
  const flag = `--${spec.name}`;
  if (typeof raw !== 'string') return raw;
  const kind = spec.kind;
  if (typeof kind === 'object') {
    if (!kind.oneOf.includes(raw))
      throw new ConfigError(`${flag} must be ${kind.oneOf.map((w) => `"${w}"`).join(', ')}; got "${raw}"`);
    return raw;
  }
  switch (kind) {
    case 'port': {
      const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(n) || n > 65535)
        throw new ConfigError(`${flag} must be a port number, got "${raw}"`);
      return n;
    }
    case 'duration': {
      // Go-style ("15s", "500ms") like everything else users write for this project.
      const value = parseDuration(raw.trim());
      if (value === undefined || value < 0)
        throw new ConfigError(`${flag} must be a duration like "15s", got "${raw}"`);
      return value;
    }
    case 'days': {
      const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(n) || n < 1 || n > 3650)
        throw new ConfigError(`${flag} must be a whole number of days from 1 to 3650, got "${raw}"`);
      return n;
    }
    case 'count': {
      const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(n) || n < 1 || n > 1024)
        throw new ConfigError(`${flag} must be a whole number from 1 to 1024, got "${raw}"`);
      return n;
    }
    default:
      return raw;
  }
}

/** A class is compared with spec.controller as written: no empty or padded name. */
function controllerClass(raw: string | undefined): string {
  const value = raw ?? 'default';
  if (value === '' || value.trim() !== value || value.length > 253)
    throw new ConfigError(`--controller-class must be a name like "default" or "esw", got "${value}"`);
  return value;
}

function inflightBytes(raw: string | undefined, env: NodeJS.ProcessEnv): number {
  if (raw === undefined) return defaultInflightBytes(memoryLimit(env));
  const n = parseBytes(raw);
  if (n === undefined || n < BODY_LIMIT) {
    throw new ConfigError(
      `--max-inflight-bytes must be a size of at least ${BODY_LIMIT} bytes (one largest request), like "32Mi"; got "${raw}"`,
    );
  }
  return n;
}

/** node:util's messages quote oddly (`Unknown option '--x'. To specify…`): say it our way. */
function parseArgsProblem(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const m = /option '([^']+)'/.exec(e.message ?? '') ?? /'(-[^']+)'/.exec(e.message ?? '');
  const option = m?.[1]?.split(' ')[0];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${option ?? ''}`.trim();
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return option
        ? `${option} ${/needs|requires an argument/i.test(e.message ?? '') ? 'needs a value' : 'takes no value'}`
        : (e.message ?? 'invalid flag');
    default:
      return e.message ?? String(err);
  }
}

/** `esw <command> --help`: every flag with its environment variable and default. */
export function commandHelp(command: CommandName): string {
  const c = COMMANDS[command];
  const rows = flagsOf(command).map((f) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.value}` : ''}`;
    const notes = [
      ...(f.env ? [`env ${f.env}`] : []),
      ...(f.defaultText
        ? [`default ${f.defaultText}`]
        : f.default !== undefined
          ? [`default ${f.default}`]
          : []),
    ];
    return { left, right: `${f.help}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  return [
    `Usage: ${c.usage}`,
    '',
    c.summary,
    ...c.detail,
    '',
    'Flags:',
    ...rows.flatMap((r) =>
      wrap(r.right, HELP_WIDTH - width - 2).map(
        (text, i) => `  ${(i === 0 ? r.left : '').padEnd(width)}${text}`,
      ),
    ),
    '',
  ].join('\n');
}

const HELP_WIDTH = 100;

/** Words into lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export function mainHelp(version: string): string {
  const names = Object.keys(COMMANDS) as CommandName[];
  return [
    `esw ${version}: admission webhook for External Secrets Operator resources and placeholder Secrets`,
    '',
    'Usage: esw <command> [flags]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(10)}${COMMANDS[n].summary}`),
    '',
    'Flags:',
    '  -h, --help     help for esw or a command (esw <command> --help lists every flag)',
    '  -v, --version  print the version',
    '',
    'Exit codes: 0 success, 1 invalid input or a refusal, 2 usage error or unreadable input.',
    '',
  ].join('\n');
}

// ----------------------------------------------------------------------------------- serve

export interface ServeConfig {
  /**
   * standalone: stores from files. cluster: informers, refresher, Leases — only with
   * --kubeconfig or inside a pod, never because KUBECONFIG happens to be set.
   */
  mode: 'standalone' | 'cluster';
  port: number;
  host: string;
  tlsCert: string;
  tlsKey: string;
  /** True when neither flag nor env named the certificate files: dev certs are created on first start. */
  tlsDefault: boolean;
  clientCa: string | undefined;
  kubeconfig: string | undefined;
  stores: string[];
  /** Stores (and what uses them) served: src/api/controller-class.ts. */
  controllerClass: string;
  refresher: boolean;
  /** Serve POST /refresh (cluster mode). */
  refreshEndpoint: boolean;
  /** `--generic-target-kinds`: what `spec.target.manifest` may name; empty: generic targets off. */
  genericTargetKinds: string[];
  /** The flag was given: standalone mode checks it at admission too (cluster mode always does). */
  genericTargetKindsGiven: boolean;
  refreshCallerIntervalMs: number;
  refreshPort: number;
  refreshAudience: string | undefined;
  /** Serve Event Grid deliveries on the refresh port (cluster mode). */
  eventGridEndpoint: boolean;
  logLevel: string;
  certMode: 'files' | 'builtin';
  certSecret: string;
  webhookService: string;
  namespace: string;
  podName: string;
  leaseName: string;
  /** Shards of the refresh keyspace; 1: one Lease elects the replica that refreshes everything. */
  shards: number;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Deadline for one admission's provider lookups; below the webhook's timeoutSeconds (10 s). */
  admissionDeadlineMs: number;
  cacheTtlMs: number;
  /** How often cluster mode re-reads the credential Secrets of live provider clients; 0: never. */
  credentialsRecheckMs: number;
  /** Wait this long after SIGTERM (readiness already failing) before closing the listener. */
  shutdownDelayMs: number;
  /**
   * Body bytes all admission requests in flight may hold together; more is answered 429 before
   * the body is read. Default: 1/16 of the container's memory limit (src/server/request-bounds.ts).
   */
  maxInflightBytes: number;
  mutatingWebhookName: string;
  validatingWebhookName: string;
  /** Who may use this server's own identity (src/api/identity.ts). */
  identity: IdentityPolicy;
}

/** The identity flags of `serve` and `validate`, so CI validates as the cluster admits. */
export function identityPolicy(cl: CommandLine): IdentityPolicy {
  let ambientNamespaces: string[];
  try {
    ambientNamespaces = parseNamespacePatterns(cl.string('allow-ambient-identity-namespaces'));
  } catch (err: unknown) {
    throw new ConfigError(`--allow-ambient-identity-namespaces: ${(err as Error).message}`);
  }
  return { ambientNamespaces, gcpExternalAccount: cl.boolean('allow-gcp-external-account') };
}

/**
 * `--generic-target-kinds` of `serve` and `validate`, so CI refuses the kinds the cluster
 * refuses; undefined when neither the flag nor its variable was given.
 */
export function genericTargetKindsOf(cl: CommandLine): string[] | undefined {
  if (cl.isDefault('generic-target-kinds')) return undefined;
  try {
    return parseGenericTargetKinds(cl.string('generic-target-kinds'));
  } catch (err: unknown) {
    throw new ConfigError(`--generic-target-kinds: ${(err as Error).message}`);
  }
}

export function parseServeConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  return serveConfig(new CommandLine('serve', argv, env), env);
}

export function serveConfig(cl: CommandLine, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  // `--stores a.yaml b.yaml` reads naturally; positionals after it are more store files.
  const stores = [...cl.strings('stores'), ...cl.positionals];
  const tlsDefault = cl.isDefault('tls-cert');
  if (tlsDefault !== cl.isDefault('tls-key')) {
    throw new ConfigError('--tls-cert and --tls-key must be given together');
  }
  const kubeconfig = cl.string('kubeconfig');
  if (kubeconfig && stores.length > 0) {
    throw new ConfigError('--kubeconfig (cluster mode) and --stores (standalone mode) exclude each other');
  }
  const genericTargetKinds = genericTargetKindsOf(cl) ?? [];
  const leaseDurationMs = cl.number('lease-duration');
  const renewDeadlineMs = cl.number('renew-deadline');
  // A replica stops writing a shard at its renew deadline; another may take it at the lease
  // duration: the gap covers clocks running at different rates and a write on its way.
  const deadlineLimitMs = renewDeadlineLimitMs(leaseDurationMs);
  if (renewDeadlineMs >= deadlineLimitMs) {
    throw new ConfigError(
      `--renew-deadline (${renewDeadlineMs} ms) must be shorter than --lease-duration (${leaseDurationMs} ms) ` +
        `less ${HANDOVER_MARGIN * 100} % (${deadlineLimitMs} ms): a replica must have stopped writing a shard ` +
        'before another may take it',
    );
  }
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST);
  const mode = stores.length === 0 && (kubeconfig || inPod) ? 'cluster' : 'standalone';
  return {
    mode,
    port: cl.number('port'),
    // Standalone serves example values: reachable from this machine only unless asked.
    host: cl.string('host') ?? (mode === 'cluster' ? '0.0.0.0' : '127.0.0.1'),
    tlsCert: cl.string('tls-cert') ?? `${DEFAULT_CERT_DIR}/tls.crt`,
    tlsKey: cl.string('tls-key') ?? `${DEFAULT_CERT_DIR}/tls.key`,
    tlsDefault,
    clientCa: cl.string('client-ca'),
    kubeconfig,
    stores,
    controllerClass: controllerClass(cl.string('controller-class')),
    refresher: !cl.boolean('no-refresher'),
    refreshEndpoint: cl.boolean('refresh-endpoint'),
    genericTargetKinds,
    genericTargetKindsGiven: !cl.isDefault('generic-target-kinds'),
    refreshCallerIntervalMs: cl.number('refresh-caller-interval'),
    refreshPort: cl.number('refresh-port'),
    refreshAudience: cl.string('refresh-audience'),
    eventGridEndpoint: cl.boolean('event-grid-endpoint'),
    logLevel: cl.string('log-level') as string,
    certMode: cl.string('cert-mode') as 'files' | 'builtin',
    certSecret: cl.string('cert-secret') as string,
    webhookService: cl.string('webhook-service') as string,
    namespace: cl.string('namespace') as string,
    podName: cl.string('pod-name') ?? env.HOSTNAME ?? `esw-${process.pid}`,
    leaseName: cl.string('lease-name') as string,
    shards: cl.number('shards'),
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs: cl.number('retry-period'),
    admissionDeadlineMs: cl.number('admission-deadline'),
    cacheTtlMs: cl.number('cache-ttl'),
    credentialsRecheckMs: cl.number('credentials-recheck'),
    shutdownDelayMs: cl.number('shutdown-delay'),
    maxInflightBytes: inflightBytes(cl.string('max-inflight-bytes'), env),
    mutatingWebhookName: cl.string('mutating-webhook') as string,
    validatingWebhookName: cl.string('validating-webhook') as string,
    identity: identityPolicy(cl),
  };
}
