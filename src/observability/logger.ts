import { type DestinationStream, type Logger, pino } from 'pino';

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
  'secret',
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
      base: { name: 'esw' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}

/** A logger that writes nothing: for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
