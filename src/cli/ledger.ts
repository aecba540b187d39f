/**
 * `fedveil ledger repair FILE` and `fedveil ledger pubkey KEYFILE|LEDGER`:
 * maintenance of a privacy ledger (docs/ledger.md).
 *
 * `repair` removes a torn last line (a write interrupted by a crash or a
 * full disk) after showing what it removes, and nothing else: a ledger
 * that fails verification in any other way is refused (exit 4), because
 * an auditor must see it as it is. Stop the server that writes the ledger
 * first.
 *
 * `pubkey` prints the Ed25519 public key of a key file, or the one in a
 * ledger's header (which proves nothing about who wrote the ledger: compare
 * it with the key the server published).
 */
import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { CliExit, EXIT_CODES, printJson } from './common.js';

interface RepairOptions {
  dryRun?: boolean;
  json?: boolean;
}

/** A short, printable preview of removed bytes. */
function preview(bytes: Uint8Array, max = 120): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, max));
  return JSON.stringify(text) + (bytes.length > max ? ` ... (${bytes.length - max} more bytes)` : '');
}

export interface RepairOutcome {
  readonly ledger: string;
  /** Whether a torn line was (or, with dryRun, would be) removed. */
  readonly repaired: boolean;
  readonly dryRun: boolean;
  /** 1-based line number of the removed tail, its offset and length in bytes. */
  readonly line: number | null;
  readonly offset: number | null;
  readonly removedBytes: number;
  /** Rounds and head hash of the ledger as it is after the repair. */
  readonly rounds: number;
  readonly headHash: string | null;
}

/** Repair a ledger file (see the module comment); throws CliExit(4) for anything but a torn last line. */
export async function repairLedgerFile(file: string, options: { dryRun?: boolean; say?: (line: string) => void } = {}): Promise<RepairOutcome> {
  const { verifyLedger } = await import('../dp/ledger-verify.js');
  const { LedgerPartialLine } = await import('../dp/ledger-format.js');
  const { PrivacyLedger } = await import('../dp/ledger.js');
  const say = options.say ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const data = new Uint8Array(await fs.readFile(file));
  const report = verifyLedger(data, { accountants: [] });
  const dryRun = options.dryRun === true;
  if (report.valid) {
    say(`${file}: nothing to repair: the ledger verifies (${report.rounds.length} rounds)`);
    return { ledger: file, repaired: false, dryRun, line: null, offset: null, removedBytes: 0, rounds: report.rounds.length, headHash: report.headHash };
  }
  const err = report.error;
  const onlyTorn = err instanceof LedgerPartialLine && report.issues.length === 1;
  if (!onlyTorn || !err) {
    const what = err ? `line ${String(err.line)}: ${err.reason}: ${err.message.replace(/^line \d+: [A-Z_]+: /, '')}` : 'it does not verify';
    throw new CliExit(EXIT_CODES.LEDGER_INTEGRITY, `${file}: not repaired: ${what} (repair only removes a torn last line; every complete line is kept for the auditor)`);
  }
  if (err.offset === 0) {
    throw new CliExit(EXIT_CODES.LEDGER_INTEGRITY, `${file}: not repaired: the header itself is torn (the ledger was never created completely; no round is recorded in it)`);
  }
  say(`${file}: line ${String(err.line)} is torn (an interrupted write): ${err.length} bytes at offset ${err.offset}, not a complete line and never valid:`);
  say(`  ${preview(data.subarray(err.offset))}`);
  if (dryRun) {
    say(`${file}: --dry-run: nothing changed; without it these ${err.length} bytes are removed and ${report.rounds.length} complete rounds kept`);
    return { ledger: file, repaired: true, dryRun, line: err.line ?? null, offset: err.offset, removedBytes: err.length, rounds: report.rounds.length, headHash: report.headHash };
  }
  const res = await PrivacyLedger.repair(file);
  const after = verifyLedger(new Uint8Array(await fs.readFile(file)), { accountants: [] });
  if (!after.valid || res.removedBytes !== err.length) {
    // The file changed between the check and the truncation (a writer still running?).
    throw new CliExit(EXIT_CODES.LEDGER_INTEGRITY, `${file}: the file changed during the repair (is a server still writing it?): ${after.error?.message ?? `removed ${res.removedBytes} bytes, expected ${err.length}`}`);
  }
  say(`${file}: removed ${res.removedBytes} bytes; the ledger verifies: ${after.rounds.length} rounds, head ${String(after.headHash)}`);
  return { ledger: file, repaired: true, dryRun, line: res.line, offset: err.offset, removedBytes: res.removedBytes, rounds: after.rounds.length, headHash: after.headHash };
}

export interface PubkeyOutcome {
  readonly publicKey: string;
  /** `key`: from a key file; `ledger`: from a ledger's (signature-checked) header. */
  readonly source: 'key' | 'ledger';
  readonly file: string;
}

/** The public key of a key file or of a ledger header. */
export async function publicKeyOf(file: string): Promise<PubkeyOutcome> {
  const { LEDGER_FORMAT } = await import('../dp/ledger-format.js');
  const handle = await fs.open(file, 'r');
  let head: Uint8Array;
  try {
    const buf = new Uint8Array(65536);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const nl = head.indexOf(0x0a);
  let first: unknown = null;
  try {
    first = JSON.parse(new TextDecoder().decode(nl >= 0 ? head.subarray(0, nl) : head));
  } catch {
    // not a one-line JSON object: a key file (JSON on several lines, raw or hex seed)
  }
  if (typeof first === 'object' && first !== null && (first as { format?: unknown }).format === LEDGER_FORMAT) {
    const { verifyLedger } = await import('../dp/ledger-verify.js');
    const report = verifyLedger(head.subarray(0, nl + 1), { accountants: [] });
    if (nl < 0 || !report.header || report.error) {
      throw new CliExit(EXIT_CODES.LEDGER_INTEGRITY, `${file}: the ledger header does not verify: ${report.error?.message ?? 'no complete header line'}`);
    }
    return { publicKey: report.header.publicKey, source: 'ledger', file };
  }
  const { loadLedgerKey } = await import('../dp/ledger.js');
  const { bytesToLowerHex } = await import('../dp/ledger-format.js');
  const { secretKey, publicKey } = await loadLedgerKey(file);
  secretKey.fill(0);
  return { publicKey: bytesToLowerHex(publicKey), source: 'key', file };
}

export function register(program: Command): void {
  const ledger = program
    .command('ledger')
    .description('privacy ledger maintenance: repair a torn last line, print a public key');
  ledger
    .command('repair')
    .description('remove a torn last line (an interrupted write) after showing it; refuses any other damage (exit 4)')
    .argument('<file>', 'the ledger (stop the server writing it first)')
    .option('--dry-run', 'show what would be removed, change nothing')
    .option('--json', 'print one JSON object on stdout')
    .action(async (file: string, opts: RepairOptions) => {
      const outcome = await repairLedgerFile(file, { ...(opts.dryRun ? { dryRun: true } : {}) });
      if (opts.json) printJson(outcome);
    });
  ledger
    .command('pubkey')
    .description('print the Ed25519 public key (hex) of a ledger key file, or the one in a ledger\'s header')
    .argument('<file>', 'a key file (KEYFILE) or a ledger (LEDGER)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (file: string, opts: { json?: boolean }) => {
      const out = await publicKeyOf(file);
      if (opts.json) printJson(out);
      else {
        process.stdout.write(`${out.publicKey}\n`);
        if (out.source === 'ledger') process.stderr.write(`fedveil ledger pubkey: from the header of ${file}: it proves the ledger is self-consistent, not who wrote it; compare it with the key the server published\n`);
      }
    });
}
