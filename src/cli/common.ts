/**
 * Shared pieces of the `fedveil` command line: option parsers that turn bad
 * input into one clear line, JSON output, and the exit-code contract
 * (DESIGN.md section 7: `--json` prints one object on stdout and nothing
 * else there; errors are one line on stderr and a non-zero exit).
 */
import { InvalidArgumentError } from 'commander';

/** An error that ends the command with a given exit code and one stderr line. */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function parseNumber(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return v;
}

export function parseInteger(value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(v)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return v;
}

export function parsePositiveInteger(value: string): number {
  const v = parseInteger(value);
  if (v < 1) throw new InvalidArgumentError(`expected an integer >= 1, got "${value}"`);
  return v;
}

export function parseProbability(value: string): number {
  const v = parseNumber(value);
  if (v < 0 || v > 1) throw new InvalidArgumentError(`expected a number in [0, 1], got "${value}"`);
  return v;
}

/** Print one JSON object on stdout (the `--json` contract). */
export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v)) + '\n');
}
