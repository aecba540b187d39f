import { ed25519KeyPair } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { BudgetExceeded } from '../../src/errors.js';
import { RoundCoordinator, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { runParticipant, Rejected } from '../../src/fl/participant.js';
import { hex } from '../../src/transport/session.js';
import { fakeProtocol } from './fake-protocol.js';
import { secAggProtocol } from '../../src/fl/secagg-protocol.js';
import { TokenBucket } from '../../src/transport/limits.js';
import { expectFedveilRejection } from '../expect-error.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
/** Token-enrolled, uncertified test clients: the development policy (the attack tests use real policies). */
const devPolicy = insecureDevelopmentPolicy();

function vec(seed: number, dim: number, bits: number): Uint32Array {
  const v = new Uint32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = ((seed * 2654435761 + i * 40503) >>> 0) % 2 ** bits;
  return v;
}

function plainSum(vs: Uint32Array[], bits: number): Uint32Array {
  const out = new Uint32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < out.length; i++) out[i] = (out[i]! + v[i]!) % 2 ** bits;
  return out;
}

describe('MemoryTransport + Coordinator (plaintext stand-in protocol)', () => {
  test('rounds complete with the plain sum; unenrolled identity rejected', async () => {
    const transport = new MemoryTransport();
    const ids = Array.from({ length: 5 }, (_, i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(i + 1))));
    const records: RoundRecord[] = [];
    const coordinator = new RoundCoordinator({
      transport,
      protocol: fakeProtocol,
      enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) },
      dim: 8,
      bits: 16,
      minClients: 5,
      rounds: 2,
      onRound: (r) => {
        records.push(r);
      },
    });
    await coordinator.start();
    const inputs = new Map<string, Uint32Array[]>();
    const runs = ids.map(async (identity, i) =>
      runParticipant({ policy: devPolicy,
        channel: await transport.connect(),
        identity,
        protocol: fakeProtocol,
        input: ({ round, dim, bits }) => {
          const v = vec(i * 100 + round, dim, bits);
          const key = hex(identity.publicKey);
          inputs.set(key, [...(inputs.get(key) ?? []), v]);
          return v;
        },
      }),
    );
    const stranger = runParticipant({ policy: devPolicy, channel: await transport.connect(), identity: ed25519KeyPair(), protocol: fakeProtocol, input: () => new Uint32Array(8) });
    await expectFedveilRejection(stranger, Rejected, 'REJECTED_NOT_ENROLLED');
    const summaries = await Promise.all(runs);
    await coordinator.finished;
    expect(summaries.every((s) => s.roundsCompleted === 2)).toBe(true);
    expect(records).toHaveLength(2);
    records.forEach((r, k) => {
      expect(r.survivors).toHaveLength(5);
      expect(r.sum).toEqual(plainSum(r.survivors.map((s) => inputs.get(s)![k]!), 16));
    });
  });
});

describe('Coordinator stage deadlines (real SecAgg over MemoryTransport)', () => {
  test('a connected but silent client misses the stage deadline, becomes a dropout, and the sum of the others is exact', async () => {
    const transport = new MemoryTransport();
    const ids = Array.from({ length: 6 }, (_, i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(40 + i))));
    const records: RoundRecord[] = [];
    const coordinator = new RoundCoordinator({
      transport,
      protocol: secAggProtocol,
      enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) },
      dim: 10,
      bits: 16,
      minClients: 6,
      rounds: 1,
      dropout: 0.3,
      // The deadline only has to expire for the silent client: honest
      // in-memory clients speak within milliseconds, and every stage they
      // all speak in closes early, so a generous deadline costs the test only
      // its wait for the one silent stage.
      stageTimeoutMs: 5000,
      onRound: (r) => void records.push(r),
    });
    await coordinator.start();
    const inputs = new Map<string, Uint32Array>();
    const runs = ids.map(async (identity, i) =>
      runParticipant({ policy: devPolicy,
        channel: await transport.connect(),
        identity,
        protocol: secAggProtocol,
        input: ({ dim, bits }) => {
          const v = vec(i + 7, dim, bits);
          inputs.set(hex(identity.publicKey), v);
          return v;
        },
        // Client 0 stays connected but never sends its masked input.
        ...(i === 0 ? { beforeSend: (type: string) => (type === 'MaskedInput' ? new Promise<void>(() => undefined) : undefined) } : {}),
      }),
    );
    await coordinator.finished;
    const silent = hex(ids[0]!.publicKey);
    const r = records[0]!;
    expect(r.survivors).toHaveLength(5);
    expect(r.survivors).not.toContain(silent);
    expect(r.stageMs.find((s) => s.stage === 'MaskedInputCollection')!.viaDeadline).toBe(true);
    expect(r.sum).toEqual(plainSum(r.survivors.map((s) => inputs.get(s)!), 16));
    await coordinator.stop();
    // Everyone hears `bye`; only the five survivors count the round as theirs.
    const summaries = await Promise.all(runs);
    expect(summaries.map((x) => x.roundsCompleted)).toEqual([0, 1, 1, 1, 1, 1]);
  });
});

describe('TokenBucket', () => {
  test('allows the burst, then the sustained rate, on an injected clock', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 5, () => now);
    const burst = Array.from({ length: 8 }, () => bucket.take());
    expect(burst).toEqual([true, true, true, true, true, false, false, false]);
    now += 1000; // 10 tokens refilled, capped at the burst of 5
    expect(Array.from({ length: 6 }, () => bucket.take())).toEqual([true, true, true, true, true, false]);
    now += 100; // one token
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
  });
});

describe('Coordinator budget guard', () => {
  test('a task refused with BudgetExceeded ends the run: no round opens, every client hears bye with the reason', async () => {
    const transport = new MemoryTransport();
    const ids = [1, 2, 3].map((i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(60 + i))));
    const starts: number[] = [];
    const coordinator = new RoundCoordinator({
      transport,
      protocol: fakeProtocol,
      enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) },
      dim: 4,
      bits: 8,
      minClients: 3,
      rounds: 5,
      task: (round) => {
        if (round >= 2) throw new BudgetExceeded(7.1, 5);
        return { kind: 'vector' };
      },
      onEvent: (e) => {
        if (e.type === 'round-start') starts.push(e.round);
      },
    });
    await coordinator.start();
    const summaries = await Promise.all(ids.map(async (identity) => runParticipant({ policy: devPolicy, channel: await transport.connect(), identity, protocol: fakeProtocol, input: ({ dim }) => new Uint32Array(dim) })));
    await coordinator.finished;
    expect(starts).toEqual([1]);
    expect(coordinator.status()).toMatchObject({ state: 'finished', round: null, roundsCompleted: 1 });
    for (const s of summaries) {
      expect(s.roundsCompleted).toBe(1);
      expect(s.reason).toMatch(/^privacy budget exhausted: /);
    }
    await coordinator.stop();
  });
});

describe('active-server mode over the transport', () => {
  test('transport identities sign the SecAgg messages; the round passes the ConsistencyCheck with the exact sum', async () => {
    const transport = new MemoryTransport();
    const ids = Array.from({ length: 5 }, (_, i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(80 + i))));
    const records: RoundRecord[] = [];
    const coordinator = new RoundCoordinator({ transport, protocol: secAggProtocol, enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) }, dim: 12, bits: 16, minClients: 5, rounds: 1, mode: 'active', onRound: (r) => void records.push(r) });
    await coordinator.start();
    const inputs = new Map<string, Uint32Array>();
    await Promise.all(ids.map(async (identity, i) => runParticipant({ policy: devPolicy, channel: await transport.connect(), identity, protocol: secAggProtocol, input: ({ dim, bits }) => {
      const v = vec(i + 31, dim, bits);
      inputs.set(hex(identity.publicKey), v);
      return v;
    } })));
    await coordinator.finished;
    const r = records[0]!;
    expect(r.stageMs.map((s) => s.stage)).toContain('ConsistencyCheck');
    expect(r.survivors).toHaveLength(5);
    expect(r.sum).toEqual(plainSum(r.survivors.map((s) => inputs.get(s)!), 16));
    await coordinator.stop();
  });
});
