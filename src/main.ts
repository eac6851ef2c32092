#!/usr/bin/env node
/**
 * `esw` — serve | validate | render | certs. The only place that reads process.argv; each command
 * lives in src/cli/ and is loaded on demand (cli/serve.ts listens and installs the signal
 * handlers). Users reach it through bin/esw.cjs (`npx esw …`), which runs it on Node 24; the
 * container image runs dist/main.js directly.
 */
import { readFileSync } from 'node:fs';
import {
  COMMANDS,
  CommandLine,
  type CommandName,
  ConfigError,
  commandHelp,
  genericTargetKindsOf,
  identityPolicy,
  mainHelp,
  serveConfig,
} from './config.ts';
import { errorMessage } from './errors.ts';

/** Exit codes, documented in docs/cli.md. */
export const Exit = { ok: 0, invalid: 1, usage: 2 } as const;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Standard input, read by `esw validate -`. */
  stdin: () => Promise<string>;
}

const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      io.err(mainHelp(version()));
      return Exit.usage;
    case '-h':
    case '--help':
    case 'help': {
      const topic = rest[0];
      if (topic && isCommand(topic)) io.out(commandHelp(topic));
      else io.out(mainHelp(version()));
      return Exit.ok;
    }
    case '-v':
    case '--version':
    case 'version':
      io.out(`esw ${version()} (node ${process.version})\n`);
      return Exit.ok;
  }
  if (!isCommand(command)) {
    io.err(`esw: unknown command "${command}"\nRun 'esw --help' for the commands.\n`);
    return Exit.usage;
  }
  let cl: CommandLine;
  try {
    cl = new CommandLine(command, rest);
  } catch (err: unknown) {
    return usage(io, command, errorMessage(err));
  }
  if (cl.help) {
    io.out(commandHelp(command));
    return Exit.ok;
  }
  try {
    switch (command) {
      case 'serve': {
        const config = serveConfig(cl);
        // Loaded on demand: --help and the other commands stay quick to start.
        const { serve } = await import('./cli/serve.ts');
        return await serve(config);
      }
      case 'validate': {
        if (cl.positionals.length === 0) return usage(io, command, 'validate needs at least one PATH (or -)');
        const { runValidate } = await import('./cli/validate.ts');
        return await runValidate(cl.positionals, {
          strict: cl.boolean('strict'),
          output: cl.string('output') as 'text' | 'json',
          identity: identityPolicy(cl),
          genericTargetKinds: genericTargetKindsOf(cl),
          io,
        });
      }
      case 'render': {
        const [file, ...moreStores] = cl.positionals;
        const stores = [...cl.strings('stores'), ...moreStores];
        if (!file || stores.length === 0) return usage(io, command, 'render needs FILE and --stores FILE...');
        const { runRender } = await import('./cli/render.ts');
        return await runRender(file, stores, io.out, io.err, { strict: cl.boolean('strict') });
      }
      case 'certs': {
        const { runCerts } = await import('./cli/certs.ts');
        return await runCerts(
          {
            out: cl.string('out'),
            hosts: [...cl.strings('dns'), ...cl.positionals],
            days: cl.number('days'),
            force: cl.boolean('force'),
          },
          io,
        );
      }
    }
  } catch (err: unknown) {
    if (err instanceof ConfigError) return usage(io, command, err.message);
    io.err(`esw: ${errorMessage(err)}\n`);
    return Exit.invalid;
  }
}

function isCommand(s: string): s is CommandName {
  return Object.hasOwn(COMMANDS, s);
}

function usage(io: Io, command: CommandName, problem: string): number {
  io.err(`esw ${command}: ${problem}\nRun 'esw ${command} --help' for every flag.\n`);
  return Exit.usage;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`esw: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    },
  );
}
