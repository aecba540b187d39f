/**
 * headerHashOf: SHA-256 of a ledger's first line, read in 4096-byte chunks
 * (the identity of a ledger in its key's registry). A header longer than one
 * chunk must hash exactly like the same bytes read at once.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headerHashOf } from '../../src/dp/ledger.js';

const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

describe('headerHashOf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedveil-header-hash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['short header', 100],
    ['header of exactly one chunk', 4096],
    ['header spanning three chunks', 10_000],
  ])('%s: the hash of the first line, whatever follows it', async (_name, length) => {
    const header = '{"h":"' + 'abcdefghij'.repeat(length).slice(0, length - 8) + '"}';
    expect(header).toHaveLength(length);
    const path = join(dir, `ledger-${length}.jsonl`);
    writeFileSync(path, `${header}\n{"round":1}\n{"round":2}\n`);
    expect(await headerHashOf(path)).toBe(sha256Hex(header));
  });
});
