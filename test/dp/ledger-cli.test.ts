/**
 * `fedveil ledger repair` and `fedveil ledger pubkey`, spawned through tsx.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveLedgerKey } from '../../src/dp/ledger.js';
import { bytesToLowerHex } from '../../src/dp/ledger-format.js';
import { verifyLedger } from '../../src/dp/ledger-verify.js';
import { EXIT_CODES } from '../../src/cli/common.js';
import { fedveil } from '../cli/run.js';
import { makeLedger, tempDir } from '../fixtures/ledgers/generate.js';

const lastLine = (s: string): string => s.trimEnd().split('\n').pop()!;

describe('fedveil ledger repair', () => {
  test('a torn last line: shown (--dry-run changes nothing), then removed; the ledger verifies and keeps every round', async () => {
    const made = await makeLedger({ rounds: 3 });
    const tail = '{"epsilon":1.5,"event":{"ty';
    appendFileSync(made.path, tail);
    const dry = await fedveil(['ledger', 'repair', '--dry-run', made.path]);
    expect(dry.code).toBe(EXIT_CODES.OK);
    expect(dry.stderr).toContain(JSON.stringify(tail));
    expect(readFileSync(made.path, 'utf8')).toBe(made.text + tail);
    const res = await fedveil(['ledger', 'repair', '--json', made.path]);
    expect(res.code).toBe(EXIT_CODES.OK);
    expect(JSON.parse(res.stdout)).toMatchObject({ repaired: true, dryRun: false, line: 5, removedBytes: tail.length, rounds: 3 });
    expect(res.stderr).toContain(JSON.stringify(tail));
    expect(readFileSync(made.path, 'utf8')).toBe(made.text);
    expect(verifyLedger(readFileSync(made.path), { accountants: [], publicKey: made.publicKey }).valid).toBe(true);
    const again = await fedveil(['ledger', 'repair', '--json', made.path]);
    expect(again.code).toBe(EXIT_CODES.OK);
    expect(JSON.parse(again.stdout)).toMatchObject({ repaired: false, removedBytes: 0 });
  });

  test('refuses anything else that fails verification (exit 4), even with a torn tail, and changes nothing', async () => {
    const made = await makeLedger({ rounds: 2 });
    const dir = tempDir();
    const cases = {
      tampered: made.text.replace('"survivors":42', '"survivors":44'),
      tamperedAndTorn: made.text.replace('"survivors":41', '"survivors":44') + '{"epsi',
      tornHeader: made.lines[0]!.slice(0, 50),
    };
    for (const [name, text] of Object.entries(cases)) {
      expect(text).not.toBe(made.text);
      const path = join(dir, `${name}.jsonl`);
      writeFileSync(path, text);
      const res = await fedveil(['ledger', 'repair', path]);
      expect(res.code).toBe(EXIT_CODES.LEDGER_INTEGRITY);
      expect(lastLine(res.stderr)).toMatch(/^fedveil: LEDGER_INTEGRITY: /);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });
});

describe('fedveil ledger pubkey', () => {
  test('of a key file and of a ledger signed by it: the same key; a missing file is one error line', async () => {
    const made = await makeLedger({ rounds: 1 });
    const keyFile = join(tempDir(), 'server.key');
    await saveLedgerKey(keyFile, made.secretKey);
    const fromKey = await fedveil(['ledger', 'pubkey', keyFile]);
    expect(fromKey.code).toBe(EXIT_CODES.OK);
    expect(fromKey.stdout).toBe(`${bytesToLowerHex(made.publicKey)}\n`);
    const fromLedger = await fedveil(['ledger', 'pubkey', '--json', made.path]);
    expect(fromLedger.code).toBe(EXIT_CODES.OK);
    expect(JSON.parse(fromLedger.stdout)).toEqual({ publicKey: bytesToLowerHex(made.publicKey), source: 'ledger', file: made.path });
    const missing = await fedveil(['ledger', 'pubkey', join(tempDir(), 'nope.key')]);
    expect(missing.code).toBe(EXIT_CODES.ERROR);
    expect(missing.stderr).toMatch(/^fedveil: ENOENT: [^\n]+\n$/);
  });
});
