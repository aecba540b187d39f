/**
 * Shared pieces of the `fedveil` command line: option parsers that turn bad
 * input into one clear line, JSON output, and the exit-code contract:
 * `--json` prints one object on stdout and nothing else there; every error
 * is ONE stderr line `fedveil: CODE: message` and a non-zero exit code from
 * {@link EXIT_CODES}.
 */
import { InvalidArgumentError } from 'commander';

/** The exit codes of every `fedveil` command (shown by `fedveil --help`, docs/cli.md). */
export const EXIT_CODES = Object.freeze({
  /** The command did what was asked. */
  OK: 0,
  /** The command failed: I/O, network, protocol, a bad input file or key. */
  ERROR: 1,
  /** Bad command line: unknown command or option, missing or invalid option value. */
  USAGE: 2,
  /** The privacy budget is exceeded (audit), or a round would exceed it. */
  BUDGET_EXCEEDED: 3,
  /** A ledger failed verification, or was deleted, replaced or changed while in use. */
  LEDGER_INTEGRITY: 4,
  /** Stopped by SIGINT / SIGTERM (after a clean shutdown). */
  INTERRUPTED: 130,
} as const);

/** The table printed at the end of `fedveil --help`. */
export const EXIT_CODE_HELP = [
  'Exit codes:',
  '  0    OK',
  '  1    ERROR: the command failed (I/O, network, protocol, bad input file or key)',
  '  2    USAGE: bad command line (unknown command or option, missing or invalid value)',
  '  3    BUDGET_EXCEEDED: the privacy budget is (or would be) exceeded',
  '  4    LEDGER_INTEGRITY: a ledger failed verification, or was deleted, replaced or',
  '       changed while in use',
  '  130  interrupted (SIGINT/SIGTERM), after a clean shutdown',
  'Errors are one stderr line: fedveil: CODE: message',
].join('\n');

function defaultCode(exitCode: number): string {
  switch (exitCode) {
    case EXIT_CODES.USAGE: return 'USAGE';
    case EXIT_CODES.BUDGET_EXCEEDED: return 'BUDGET_EXCEEDED';
    case EXIT_CODES.LEDGER_INTEGRITY: return 'LEDGER_INTEGRITY';
    default: return 'ERROR';
  }
}

/**
 * An error that ends the command with a given exit code and one stderr line
 * `fedveil: CODE: message`; `code` defaults to the exit code's name
 * (USAGE, BUDGET_EXCEEDED, LEDGER_INTEGRITY, ERROR).
 */
export class CliExit extends Error {
  readonly exitCode: number;
  readonly code: string;
  constructor(exitCode: number, message: string, code?: string) {
    super(message);
    this.exitCode = exitCode;
    this.code = code ?? defaultCode(exitCode);
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

/** A dropout fraction that can still leave survivors: [0, 1). */
export function parseDropout(value: string): number {
  const v = parseNumber(value);
  if (v < 0 || v >= 1) throw new InvalidArgumentError(`expected a fraction in [0, 1) (with 1 every client drops), got "${value}"`);
  return v;
}

/** Largest vector length any command accepts: 2^28 32-bit words (1 GiB), the secure-aggregation limit. */
export const MAX_VECTOR_LENGTH = 2 ** 28;

/** A vector length in [1, 2^28]. */
export function parseDimension(value: string): number {
  const v = parseInteger(value);
  if (v < 1 || v > MAX_VECTOR_LENGTH) throw new InvalidArgumentError(`expected an integer in [1, ${MAX_VECTOR_LENGTH}] (2^28 words is the secure-aggregation limit), got "${value}"`);
  return v;
}

/** Print one JSON object on stdout (the `--json` contract). */
export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v)) + '\n');
}
