/**
 * The `fedveil` command-line contract (docs/cli.md): every error is one
 * stderr line `fedveil: CODE: message` with an exit code from the table
 * in `fedveil --help`, commander's own errors included; `--version`; no
 * command is an error; a misspelled option is named as unknown; serve
 * start-up failures are one line and leave no files behind.
 * Spawned through tsx (slow: few cases per command).
 */
import { spawn } from 'node:child_process';
import { fedveil, type CliResult } from './run.js';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODES } from '../../src/cli/common.js';

/** The error line (the last stderr line) and its code; no stack trace anywhere. */
function errorCode(res: CliResult): string {
  expect(res.stderr).not.toMatch(/^\s+at /m);
  const lines = res.stderr.trimEnd().split('\n');
  const last = lines[lines.length - 1]!;
  const m = /^fedveil: ([A-Z][A-Z0-9_]*): \S/.exec(last);
  expect(m).not.toBeNull();
  return m![1]!;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'fedveil-cli-'));

describe('fedveil: version, help, usage errors', () => {
  test('--version prints package.json\'s version', async () => {
    const res = await fedveil(['--version']);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  test('--help ends with the exit-code table; the codes are the ones the CLI uses', async () => {
    const res = await fedveil(['--help']);
    expect(res.code).toBe(0);
    const table = res.stdout.slice(res.stdout.indexOf('Exit codes:'));
    for (const [name, code] of Object.entries(EXIT_CODES)) {
      expect(table).toMatch(new RegExp(`^  ${code}\\s`, 'm'));
      if (name !== 'OK' && name !== 'INTERRUPTED') expect(table).toContain(name);
    }
  });

  test('no command: one line, MISSING_COMMAND, exit 2', async () => {
    const res = await fedveil([]);
    expect(res.code).toBe(EXIT_CODES.USAGE);
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(errorCode(res)).toBe('MISSING_COMMAND');
    expect(res.stdout).toBe('');
  });

  test('a misspelled option is named as unknown, not reported as a missing required one', async () => {
    const res = await fedveil(['epsilon', '--noise-multipler', '1', '--sample-rate', '0.01', '--rounds', '10', '--delta', '1e-5']);
    expect(res.code).toBe(EXIT_CODES.USAGE);
    expect(errorCode(res)).toBe('UNKNOWN_OPTION');
    expect(res.stderr).toContain('--noise-multipler');
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  test('a missing required option, an invalid value, an unknown command: one line each, exit 2', async () => {
    const missing = await fedveil(['epsilon', '--sample-rate', '0.01', '--rounds', '10', '--delta', '1e-5']);
    expect([missing.code, errorCode(missing)]).toEqual([EXIT_CODES.USAGE, 'MISSING_OPTION']);
    expect(missing.stderr).toContain('--noise-multiplier');
    const invalid = await fedveil(['epsilon', '--noise-multiplier', 'abc', '--sample-rate', '0.01', '--rounds', '10', '--delta', '1e-5']);
    expect([invalid.code, errorCode(invalid)]).toEqual([EXIT_CODES.USAGE, 'INVALID_VALUE']);
    const unknown = await fedveil(['audti', 'x.jsonl']);
    expect([unknown.code, errorCode(unknown)]).toEqual([EXIT_CODES.USAGE, 'UNKNOWN_COMMAND']);
  });

  test('simulate --ledger on an existing file: LEDGER_EXISTS, not EEXIST', async () => {
    const path = join(tempDir(), 'l.jsonl');
    writeFileSync(path, 'x');
    const res = await fedveil(['simulate', '--ledger', path]);
    expect(res.code).toBe(EXIT_CODES.USAGE);
    expect(errorCode(res)).toBe('LEDGER_EXISTS');
    expect(readFileSync(path, 'utf8')).toBe('x');
  });
});

describe('fedveil serve: start-up failures are one line and leave no files', () => {
  let blocker: Server;
  let busyPort: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    busyPort = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });
  const dpArgs = (ledger: string): string[] => ['--model', 'softmax:4:2', '--noise-multiplier', '1', '--ledger', ledger, '--enrol-token', 't', '--min-clients', '2'];
  /** Start `fedveil serve` with these arguments, wait until it listens, stop it with SIGTERM; its stderr. */
  const serveUntilListening = async (args: string[]): Promise<string> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', ...args], { cwd: process.cwd() });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    await exited;
    return stderr;
  };

  test('a busy port (EADDRINUSE, exit 1) and a bad --host (exit 2); with --ledger no key or ledger is created', async () => {
    const dir = tempDir();
    const busy = await fedveil(['serve', '--port', String(busyPort), ...dpArgs(join(dir, 'l.jsonl'))]);
    expect([busy.code, errorCode(busy)]).toEqual([EXIT_CODES.ERROR, 'EADDRINUSE']);
    const host = await fedveil(['serve', '--port', '0', '--host', '999.1.1.1', '--enrol-token', 't']);
    expect(host.code).toBe(EXIT_CODES.USAGE);
    errorCode(host);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a directory as ledger, a binary file as ledger, a rejected budget: refused, no file created', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'd.jsonl'));
    writeFileSync(join(dir, 'bin.jsonl'), Uint8Array.from([0, 1, 2, 255, 10]));
    const asDir = await fedveil(['serve', '--port', '0', ...dpArgs(join(dir, 'd.jsonl'))]);
    expect([asDir.code, errorCode(asDir)]).toEqual([EXIT_CODES.LEDGER_INTEGRITY, 'LEDGER_INTEGRITY']);
    const binary = await fedveil(['serve', '--port', '0', ...dpArgs(join(dir, 'bin.jsonl'))]);
    expect([binary.code, errorCode(binary)]).toEqual([EXIT_CODES.LEDGER_INTEGRITY, 'LEDGER_INTEGRITY']);
    const budget = await fedveil(['serve', '--port', '0', ...dpArgs(join(dir, 'new.jsonl')), '--epsilon-budget', '-1']);
    expect([budget.code, errorCode(budget)]).toEqual([EXIT_CODES.ERROR, 'INVALID_ARGUMENT']);
    expect(readdirSync(dir).sort()).toEqual(['bin.jsonl', 'd.jsonl']);
  });

  test('a failure after the ledger was created (a missing --clients-file) removes the new ledger and key again', async () => {
    const dir = tempDir();
    const res = await fedveil(['serve', '--port', '0', ...dpArgs(join(dir, 'l.jsonl')), '--clients-file', join(dir, 'none.json')]);
    expect(res.code).toBe(EXIT_CODES.ERROR);
    errorCode(res);
    expect(res.stderr).toContain('created'); // the ledger was created, then removed
    expect(readdirSync(dir)).toEqual([]);
  });

  test('serve prints the ledger\'s public key; after the ledger is deleted a restart is refused (LEDGER_MISSING, exit 4)', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.jsonl');
    const stderr = await serveUntilListening(dpArgs(ledger));
    const key = /public key ([0-9a-f]{64})/.exec(stderr)?.[1];
    expect(key).toBeDefined();
    const pub = await fedveil(['ledger', 'pubkey', `${ledger}.key`]);
    expect(pub.stdout.trim()).toBe(key);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(ledger);
    const restart = await fedveil(['serve', '--port', '0', ...dpArgs(ledger)]);
    expect([restart.code, errorCode(restart)]).toEqual([EXIT_CODES.LEDGER_INTEGRITY, 'LEDGER_INTEGRITY']);
    expect(restart.stderr).toContain('LEDGER_MISSING');
    expect(readdirSync(dir).sort()).toEqual(['l.jsonl.key', 'l.jsonl.key.ledgers']);
    // The operator says so explicitly: a fresh ledger under the same key.
    const freshErr = await serveUntilListening(['--new-ledger', ...dpArgs(ledger)]);
    expect(freshErr).toMatch(/ledger \S+l\.jsonl created/);
    expect(readdirSync(dir).sort()).toEqual(['l.jsonl', 'l.jsonl.key', 'l.jsonl.key.ledgers']);
  });
  test('values that cannot work are refused at start: --dim above 2^28, --dropout 1', async () => {
    const dim = await fedveil(['bench', 'secagg', '--clients', '10', '--dim', '1e12']);
    expect([dim.code, errorCode(dim)]).toEqual([EXIT_CODES.USAGE, 'INVALID_VALUE']);
    const drop = await fedveil(['serve', '--port', '0', '--enrol-token', 't', '--dropout', '1']);
    expect([drop.code, errorCode(drop)]).toEqual([EXIT_CODES.USAGE, 'INVALID_VALUE']);
    expect(drop.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('continuing a ledger with a different --delta or --epsilon-budget warns that the ledger header wins', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.jsonl');
    const startAndStop = (extra: string[]): Promise<string> => serveUntilListening([...dpArgs(ledger), ...extra]);
    expect(await startAndStop([])).not.toContain('warning');
    const second = await startAndStop(['--delta', '1e-6', '--epsilon-budget', '3']);
    expect(second).toMatch(/warning: --delta 0\.000001 differs from the continued ledger's 0\.00001; the ledger's is used/);
    expect(second).toMatch(/warning: --epsilon-budget 3 differs from the continued ledger's 10; the ledger's is used/);
  });
});
