/**
 * Write-ahead at the library level: a coordinator (real SecAgg over the
 * in-memory transport) records each round in the privacy ledger from its
 * beforeUnmask hook. The line is durable before any client is asked to
 * unmask; a failing append (a full disk) aborts the round before a single
 * unmasking request goes out, and the ledger file is left as it was.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519KeyPair } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { LedgerWriteError, PrivacyLedger, type LedgerLineWriter } from '../../src/dp/ledger.js';
import { verifyLedger } from '../../src/dp/ledger-verify.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
import { RoundCoordinator, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { runParticipant } from '../../src/fl/participant.js';
import { secAggProtocol } from '../../src/fl/secagg-protocol.js';
import { hex } from '../../src/transport/session.js';
import { gaussianRound, tempDir, testKey } from '../fixtures/ledgers/generate.js';

const N = 4;

async function runRound(writeLine: LedgerLineWriter): Promise<{
  ledger: PrivacyLedger; path: string; records: RoundRecord[]; sent: string[]; unmaskSentAtAppend: boolean[]; finished: unknown;
}> {
  const path = join(tempDir(), 'l.jsonl');
  const ledger = await PrivacyLedger.create(path, { secretKey: testKey(21).secretKey, delta: 1e-5, epsilonBudget: 100, writeLine });
  const ids = Array.from({ length: N }, (_, i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(60 + i))));
  const transport = new MemoryTransport();
  const records: RoundRecord[] = [];
  const sent: string[] = [];
  const unmaskSentAtAppend: boolean[] = [];
  const coordinator = new RoundCoordinator({
    transport, protocol: secAggProtocol, enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) },
    dim: 8, bits: 16, minClients: N, rounds: 1, stageTimeoutMs: 20000,
    beforeUnmask: async ({ survivors }) => {
      unmaskSentAtAppend.push(sent.includes('UnmaskResponse'));
      await ledger.appendRound(gaussianRound({ survivors, t: survivors }));
    },
    onRound: (r) => void records.push(r),
  });
  await coordinator.start();
  const runs = ids.map(async (identity, i) => runParticipant({
    policy: insecureDevelopmentPolicy(), channel: await transport.connect(), identity, protocol: secAggProtocol,
    input: ({ dim }) => new Uint32Array(dim).fill(i + 1),
    beforeSend: (type: string) => void sent.push(type),
  }));
  const finished = await coordinator.finished.then(() => null, (err: unknown) => err);
  await coordinator.stop();
  await Promise.allSettled(runs);
  return { ledger, path, records, sent, unmaskSentAtAppend, finished };
}

describe('write-ahead: the round is recorded before its sum is unmasked', () => {
  test('the line is durable before any unmasking response; it records the masked inputs received', async () => {
    const res = await runRound(async (handle, bytes) => {
      await handle.write(bytes);
      await handle.sync();
    });
    expect(res.finished).toBeNull();
    expect(res.unmaskSentAtAppend).toEqual([false]);
    expect(res.sent).toContain('UnmaskResponse');
    expect(res.records).toHaveLength(1);
    await res.ledger.close();
    const report = verifyLedger(readFileSync(res.path), { accountants: [] });
    expect(report.valid).toBe(true);
    expect(report.rounds.map((r) => r.params.survivors)).toEqual([N]);
  });

  test('a full disk (ENOSPC) aborts the round before any unmasking request: no client unmasks, the file is unchanged', async () => {
    let header = true;
    const res = await runRound(async (handle, bytes) => {
      if (header) {
        header = false;
        await handle.write(bytes);
        await handle.sync();
        return;
      }
      await handle.write(bytes, 0, 10);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    expect(res.unmaskSentAtAppend).toEqual([false]);
    expect(res.sent).toContain('MaskedInput');
    expect(res.sent).not.toContain('UnmaskResponse');
    expect(res.records).toEqual([]);
    expect(res.finished).toBeInstanceOf(LedgerWriteError);
    expect((res.finished as LedgerWriteError).code).toBe('LEDGER_WRITE_FAILED');
    expect(res.ledger.rounds).toBe(0);
    await res.ledger.close();
    const report = verifyLedger(readFileSync(res.path), { accountants: [] });
    expect(report.valid).toBe(true);
    expect(report.lines).toBe(1);
  });
});
