import { type DestinationStream, type Logger, pino } from 'pino';
import { describeError } from './sanitize.ts';

export type { Logger };

/**
 * Paths that could ever carry a value or a credential. Code never logs these on purpose; the
 * redaction is the second line of defence should an object slip into a log call.
 */
const REDACT_PATHS = [
  'data',
  'stringData',
  '*.data',
  '*.stringData',
  'object.data',
  'object.stringData',
  'request.object',
  'request.oldObject',
  'patch',
  'value',
  'values',
  'token',
  'password',
  '*.token',
  '*.password',
  '*.secretAccessKey',
  'headers.authorization',
  'req.headers.authorization',
  'authorization',
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go (tests pass a capturing stream). Default: stdout. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      // `secret` names the Secret a line is about; anything but that reference is censored.
      // An error object logged as it is (by us or by fastify) is reduced to our words: pino's
      // default serializer would write its message and stack, which may quote a value.
      serializers: { secret: secretRef, err: safeErr, error: safeErr },
      base: { name: 'esw' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}

function secretRef(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '[REDACTED]';
  const { namespace, name, ...rest } = value as Record<string, unknown>;
  const short = (v: unknown) => typeof v === 'string' && v.length <= 253;
  if (Object.keys(rest).length > 0 || !short(name) || (namespace !== undefined && !short(namespace))) {
    return '[REDACTED]';
  }
  return value;
}

/**
 * How a log line names a Kubernetes object: `{ namespace, name }` (klog's KObj shape) under a key
 * that says what it is (`secret`, `externalSecret`, `webhookConfiguration`), so a line never
 * carries a second `name` next to the logger's own. Accepts `namespace/name` keys too.
 */
export function objectRef(
  namespaceOrKey: string | undefined,
  name?: string,
): { namespace?: string; name: string } {
  if (name === undefined) {
    const key = namespaceOrKey ?? '';
    const slash = key.indexOf('/');
    return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
  }
  return namespaceOrKey ? { namespace: namespaceOrKey, name } : { name };
}

function safeErr(value: unknown): unknown {
  return typeof value === 'string' ? value : describeError(value);
}

/** A logger that writes nothing: for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

type LogArgs = Parameters<Logger['info']>;

/**
 * A request's child logger that is built on first use. Fastify gives every request a child
 * bound to its id; pino builds one (bindings serialised through the redaction) in a few µs, a
 * measurable share of an admission, while only fastify's own rare lines (errors, warnings) ever
 * use it. Behaves as `parent.child(bindings, options)` once anything is logged through it.
 */
export class LazyChildLogger {
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;
  readonly #options: object | undefined;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Record<string, unknown>, options?: object) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }

  set level(level: string) {
    this.#logger().level = level;
  }

  fatal(...args: LogArgs): void {
    this.#logger().fatal(...args);
  }
  error(...args: LogArgs): void {
    this.#logger().error(...args);
  }
  warn(...args: LogArgs): void {
    this.#logger().warn(...args);
  }
  info(...args: LogArgs): void {
    this.#logger().info(...args);
  }
  debug(...args: LogArgs): void {
    this.#logger().debug(...args);
  }
  trace(...args: LogArgs): void {
    this.#logger().trace(...args);
  }
  silent(...args: LogArgs): void {
    this.#logger().silent(...args);
  }

  child(bindings: Record<string, unknown>, options?: object): Logger {
    return this.#logger().child(bindings, options);
  }

  #logger(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }
}
