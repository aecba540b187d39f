#!/usr/bin/env node
/**
 * The `fedveil` command (DESIGN.md section 7). A thin shell over the public
 * API: each subcommand lives in its own module exporting `register`.
 */
import { Command, CommanderError } from 'commander';
import { FedveilError } from '../errors.js';
import { CliExit } from './common.js';

type Register = (program: Command) => void;

// Each entry: a module under src/cli/ exporting `register(program)`.
const commands: Array<() => Promise<{ register: Register }>> = [
  () => import('./audit.js'),
  () => import('./serve.js'),
  () => import('./join.js'),
  () => import('./epsilon.js'),
  () => import('./calibrate.js'),
  () => import('./simulate.js'),
  () => import('./params.js'),
  () => import('./bench.js'),
];

async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('fedveil')
    .description('Privacy layer for federated learning: secure aggregation, distributed DP, privacy ledger')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });
  for (const load of commands) (await load()).register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are "errors" to commander; they already printed.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 1;
    }
    if (err instanceof CliExit) {
      if (err.message) process.stderr.write(`fedveil: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof FedveilError) {
      process.stderr.write(`fedveil: ${err.code}: ${err.message}\n`);
      return 1;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`fedveil: ${msg}\n`);
    if (process.env.FEDVEIL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    return 1;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
