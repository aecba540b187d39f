/**
 * Adversarial server and network: invariants I1-I5, message validation,
 * invalid curve points, and what the server sees.
 */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { FedveilError, InvalidMessage, ProtocolAborted, ThresholdNotMet } from '../../src/errors.js';
import { decodeMessage, encodeMessage } from '../../src/secagg/messages.js';
import { roundTag } from '../../src/secagg/config.js';
import { consistencyStatement } from '../../src/secagg/derive.js';
import { encodeSurvivors } from '../../src/secagg/survivors.js';
import { neighbourGraph } from '../../src/secagg/graph.js';
import { ed25519Verify } from '../../src/crypto/signatures.js';
import type { Outgoing } from '../../src/secagg/types.js';
import { advertise, byRecipient, exchange, harness, plainSum, toServer, type Harness } from './helpers.js';

const raw = new Packr({ useRecords: false, mapsAsObjects: true });
const rewrite = (frame: Uint8Array, edit: (m: Record<string, unknown>) => void): Uint8Array => {
  const m = raw.unpack(frame) as Record<string, unknown>;
  edit(m);
  return raw.pack(m);
};
const frameFor = (out: Outgoing[], id: number): Uint8Array => byRecipient(out).get(id)![0]!;

/** Run a round up to the server's unmask request, `skipMasked` dropping before masking. */
async function upToUnmask(h: Harness, skipMasked: number[] = []): Promise<Outgoing[]> {
  const keys = await advertise(h);
  const relay = await exchange(h, keys);
  let next = await exchange(h, relay, skipMasked);
  if (next.length === 0) next = await h.server.deadline();
  return next;
}

describe('I1: a client never reveals both shares of one peer', () => {
  test('the survivor bitmap gives each owner one status: a dropped peer gets its key share only, a survivor its seed share only', async () => {
    const h = harness({ n: 5, threshold: 3, dim: 8, bits: 16 });
    const req = await upToUnmask(h, [5]);
    const out = await h.clients[0]!.handle(frameFor(req, 1));
    const resp = raw.unpack(out[0]!.frame) as { seedShares: { of: number }[]; keyShares: { of: number }[] };
    expect(resp.seedShares.map((s) => s.of)).toEqual([1, 2, 3, 4]);
    expect(resp.keyShares.map((s) => s.of)).toEqual([5]);
  });

  test('after answering one unmask request a client answers no other, so moving a peer from survivor to dropped reveals nothing more', async () => {
    const h = harness({ n: 5, threshold: 3, dim: 8, bits: 16, seed: 2 });
    const req = await upToUnmask(h, [5]);
    const first = await h.clients[1]!.handle(frameFor(req, 2));
    const resp = raw.unpack(first[0]!.frame) as { seedShares: { of: number }[]; keyShares: { of: number }[] };
    expect(resp.seedShares.map((s) => s.of)).toContain(3);
    expect(resp.keyShares.map((s) => s.of)).toEqual([5]);
    expect(h.clients[1]!.stage).toBe('Done');
    // The same round asked again with 3 "dropped": 3's key share would complete the pair.
    const second = rewrite(frameFor(req, 2), (m) => { m.survivors = encodeSurvivors([1, 2, 4, 5], 5); });
    await expect(h.clients[1]!.handle(second)).rejects.toMatchObject({ code: 'BAD_STATE' });
  });
});

describe('I2: unmasking needs at least t survivors (and valid consistency signatures in active mode)', () => {
  test('survivor set smaller than t -> ThresholdNotMet, nothing revealed', async () => {
    const h = harness({ n: 5, threshold: 4, dim: 8, bits: 16, seed: 3 });
    const req = await upToUnmask(h);
    const forged = rewrite(frameFor(req, 1), (m) => { m.survivors = encodeSurvivors([1, 2, 3], 5); });
    await expect(h.clients[0]!.handle(forged)).rejects.toBeInstanceOf(ThresholdNotMet);
    expect(h.clients[0]!.stage).toBe('Aborted');
  });

  test('SecAgg+: fewer than t surviving share holders around a client -> ThresholdNotMet even when the global set is large', async () => {
    // n = 12, k = 4, t = 3: client 1 has 4 neighbours; the coordinator claims
    // that all of them dropped but many others survived (isolating client 1).
    const h = harness({ n: 12, threshold: 3, dim: 8, bits: 16, graph: 'harary', degree: 4, seed: 11 });
    const req = await upToUnmask(h);
    const graph = neighbourGraph(h.config);
    const others = Array.from({ length: 12 }, (_, i) => i + 1).filter((v) => v === 1 || !graph.adjacent(1, v));
    const forged = rewrite(frameFor(req, 1), (m) => { m.survivors = encodeSurvivors(others, 12); });
    expect(others.length).toBeGreaterThanOrEqual(3);
    await expect(h.clients[0]!.handle(forged)).rejects.toBeInstanceOf(ThresholdNotMet);
  });

  test('I6: with minSurvivors above t the server aborts below it, and a client refuses a survivor set below it even when the server claims it', async () => {
    const h = harness({ n: 6, threshold: 3, minSurvivors: 5, dim: 8, bits: 16, seed: 12 });
    const keys = await advertise(h);
    const relay = await exchange(h, keys);
    // Two clients drop before masking: 4 masked inputs < minSurvivors = 5 (but >= t = 3).
    let next = await exchange(h, relay, [5, 6]);
    if (next.length === 0) next = await h.server.deadline();
    expect(h.server.stage).toBe('Aborted');
    expect(() => h.server.result()).toThrow(ThresholdNotMet);
    expect(next.every((o) => (raw.unpack(o.frame) as { type: string }).type === 'Abort')).toBe(true);
    // A lying server asks client 1 to unmask those four anyway.
    const h2 = harness({ n: 6, threshold: 3, minSurvivors: 5, dim: 8, bits: 16, seed: 13 });
    const req = await upToUnmask(h2);
    const forged = rewrite(frameFor(req, 1), (m) => { m.survivors = encodeSurvivors([1, 2, 3, 4], 6); });
    const err = await h2.clients[0]!.handle(forged).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ThresholdNotMet);
    expect((err as ThresholdNotMet).threshold).toBe(5);
  });

  test('active mode: different survivor sets shown to different clients are detected', async () => {
    const h = harness({ n: 6, threshold: 4, dim: 8, bits: 16, mode: 'active', seed: 4 });
    const keys = await advertise(h);
    const relay = await exchange(h, keys);
    const consistency = await exchange(h, relay);
    const full = encodeSurvivors([1, 2, 3, 4, 5, 6], 6);
    const short = encodeSurvivors([1, 2, 3, 4, 5], 6);
    // A lying server: clients 1-3 and 6 see U3 = all six, clients 4-5 see client 6 "dropped".
    const sigs = new Map<number, Uint8Array>();
    for (const id of [1, 2, 3, 4, 5, 6]) {
      const f = id === 4 || id === 5 ? rewrite(frameFor(consistency, id), (m) => { m.survivors = short; }) : frameFor(consistency, id);
      const out = await h.clients[id - 1]!.handle(f);
      sigs.set(id, (raw.unpack(out[0]!.frame) as { sig: Uint8Array }).sig);
    }
    const sid = h.server.sessionId!;
    expect(ed25519Verify(h.config.verifyKeys![3]!, consistencyStatement(sid, full), sigs.get(4)!)).toBe(false);
    const unmask = (survivors: Uint8Array, signers: number[]): Uint8Array => encodeMessage({
      type: 'UnmaskRequest', v: 1, sid, survivors, sigs: signers.map((id) => ({ id, sig: sigs.get(id)! })),
    });
    // Client 1 gets all signatures: 4's and 5's are on another set.
    await expect(h.clients[0]!.handle(unmask(full, [1, 2, 3, 4, 5, 6]))).rejects.toMatchObject({ code: 'INCONSISTENT_SURVIVORS' });
    // Client 2 gets only the matching ones but one short of t.
    await expect(h.clients[1]!.handle(unmask(full, [1, 2, 3]))).rejects.toBeInstanceOf(ThresholdNotMet);
    // Client 4 is shown its own (short) set: the others' signatures fail.
    await expect(h.clients[3]!.handle(unmask(short, [1, 2, 3, 4, 5]))).rejects.toMatchObject({ code: 'INCONSISTENT_SURVIVORS' });
    // Client 5 signed the short set; it is shown the full set with t valid
    // signatures ON the full set (1, 2, 3, 6), so only the comparison with
    // what it signed can refuse it.
    for (const id of [1, 2, 3, 6]) expect(ed25519Verify(h.config.verifyKeys![id - 1]!, consistencyStatement(sid, full), sigs.get(id)!)).toBe(true);
    await expect(h.clients[4]!.handle(unmask(full, [1, 2, 3, 6]))).rejects.toMatchObject({ code: 'INCONSISTENT_SURVIVORS' });
    expect(h.clients[4]!.stage).toBe('Aborted');
  });
});

describe('I3: every frame is validated; bad senders are dropped, nothing crashes', () => {
  test('truncated, oversized, tampered and replayed client frames -> InvalidMessage naming the sender, sender dropped', async () => {
    const h = harness({ n: 7, threshold: 3, dim: 64, bits: 12, seed: 5, limits: { maxFrameBytes: 4096 } });
    const other = harness({ n: 7, threshold: 3, dim: 64, bits: 12, seed: 6 }); // another round (other seed)
    const starts = h.clients.map((c) => c.start()[0]!.frame);
    await h.server.handle(1, starts[0]!.subarray(0, starts[0]!.length - 7)); // truncated
    await h.server.handle(2, new Uint8Array(5000)); // oversized
    await h.server.handle(3, rewrite(starts[2]!, (m) => { m.v = 2; })); // wrong protocol version
    await h.server.handle(4, other.clients[3]!.start()[0]!.frame); // replayed from another round
    await h.server.handle(5, rewrite(starts[4]!, (m) => { m.from = 6; })); // claims another sender
    await h.server.handle(6, starts[5]!);
    const out = await h.server.handle(7, starts[6]!);
    expect(h.server.rejected.map((e) => e.sender)).toEqual([1, 2, 3, 4, 5]);
    for (const e of h.server.rejected) expect(e).toBeInstanceOf(InvalidMessage);
    // Every roster member is accounted for and only 6 and 7 remain (< t = 3):
    // the server aborts with a typed error and tells the survivors.
    expect(h.server.stage).toBe('Aborted');
    expect(out.map((o) => o.to)).toEqual([6, 7]);
    await expect(h.clients[5]!.handle(out[0]!.frame)).rejects.toMatchObject({ code: 'SERVER_ABORTED' });
    expect(() => h.server.result()).toThrow(ThresholdNotMet);
  });

  test('a replayed masked input from another session is rejected; the sender counts as dropped', async () => {
    const h = harness({ n: 6, threshold: 3, dim: 32, bits: 20, seed: 7 });
    const keys = await advertise(h);
    const relay = await exchange(h, keys);
    const masked: Outgoing[] = [];
    for (const [id, frames] of byRecipient(relay)) {
      const out = await h.clients[id - 1]!.handle(frames[0]!);
      if (id === 2) {
        // The same frame re-bound to another session id: rejected (I5).
        masked.push(...(await toServer(h, id, [{ to: 'server', frame: rewrite(out[0]!.frame, (m) => { m.sid = new Uint8Array(32).fill(1); }) }])));
      } else {
        masked.push(...(await toServer(h, id, out)));
      }
    }
    expect(h.server.rejected).toHaveLength(1);
    expect(h.server.rejected[0]!.sender).toBe(2);
    const next = masked.length > 0 ? masked : await h.server.deadline();
    await exchange(h, next);
    const res = h.server.result();
    expect(res.survivors).toEqual([1, 3, 4, 5, 6]);
    expect(res.sum).toEqual(plainSum(h.inputs, res.survivors, 20));
  });

  test('a tampered relayed share -> the client aborts with InvalidMessage naming the peer', async () => {
    const h = harness({ n: 5, threshold: 3, dim: 8, bits: 16, seed: 8 });
    const keys = await advertise(h);
    const relay = await exchange(h, keys);
    const forged = rewrite(frameFor(relay, 1), (m) => {
      const shares = m.shares as { peer: number; sealed: Uint8Array }[];
      shares[1]!.sealed = Uint8Array.from(shares[1]!.sealed);
      shares[1]!.sealed[20]! ^= 1;
    });
    const peer = (raw.unpack(forged) as { shares: { peer: number }[] }).shares[1]!.peer;
    const err = await h.clients[0]!.handle(forged).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidMessage);
    expect((err as InvalidMessage).sender).toBe(peer);
  });

  test('a server frame of another round, or with a wrong type, is rejected by the client', async () => {
    const h = harness({ n: 4, threshold: 2, dim: 8, bits: 8, seed: 9 });
    const other = harness({ n: 4, threshold: 2, dim: 8, bits: 8, seed: 10 });
    const keysOther = await advertise(other);
    h.clients[0]!.start();
    await expect(h.clients[0]!.handle(frameFor(keysOther, 1))).rejects.toBeInstanceOf(InvalidMessage);
    const h2 = harness({ n: 4, threshold: 2, dim: 8, bits: 8, seed: 11 });
    const keys = await advertise(h2);
    await expect(h2.clients[0]!.handle(rewrite(frameFor(keys, 1), (m) => { m.type = 'SharesRelay'; }))).rejects.toBeInstanceOf(InvalidMessage);
  });

  test('fuzz: random and mutated frames never crash the server or the decoder', async () => {
    const h = harness({ n: 4, threshold: 2, dim: 8, bits: 8, seed: 12 });
    const valid = h.clients[0]!.start()[0]!.frame;
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
          const f = Uint8Array.from(valid);
          f[i]! ^= x;
          return f;
        }),
      ),
      fc.integer({ min: -2, max: 6 }),
      async (frame, from) => {
        try {
          decodeMessage(frame, { config: h.config, sender: 1, expect: ['AdvertiseKeys'], round: roundTag(h.config) });
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidMessage);
        }
        await expect(h.server.handle(from, frame)).resolves.toBeDefined();
      }), { numRuns: 300, seed: 3 });
    for (const e of h.server.rejected) expect(e).toBeInstanceOf(FedveilError);
  });
});

test('a wrong share from a corrupt holder aborts the round instead of corrupting the sum', async () => {
  const h = harness({ n: 5, threshold: 3, dim: 8, bits: 16, seed: 18 });
  const req = await upToUnmask(h);
  for (const [id, frames] of byRecipient(req)) {
    let out = await h.clients[id - 1]!.handle(frames[0]!);
    if (id === 1) {
      out = [{ to: 'server', frame: rewrite(out[0]!.frame, (m) => {
        const shares = m.seedShares as { y: Uint8Array }[];
        shares[0]!.y = Uint8Array.from(shares[0]!.y);
        shares[0]!.y[32]! ^= 1;
      }) }];
    }
    await toServer(h, id, out);
  }
  expect(h.server.stage).toBe('Aborted');
  expect(() => h.server.result()).toThrow(expect.objectContaining({ code: 'SHARE_MISMATCH' }));
});

test('a summed client that then sends a garbage unmask answer is ignored; the round completes without waiting', async () => {
  const h = harness({ n: 5, threshold: 3, dim: 8, bits: 16, seed: 19 });
  const req = await upToUnmask(h);
  for (const [id, frames] of byRecipient(req)) {
    const out = await h.clients[id - 1]!.handle(frames[0]!);
    await toServer(h, id, id === 2 ? [{ to: 'server', frame: new Uint8Array([1, 2, 3]) }] : out);
  }
  expect(h.server.rejected.map((e) => e.sender)).toEqual([2]);
  expect(h.server.stage).toBe('Done');
  const res = h.server.result();
  expect(res.survivors).toEqual([1, 2, 3, 4, 5]);
  expect(res.sum).toEqual(plainSum(h.inputs, res.survivors, 16));
});

describe('invalid curve points', () => {
  const LOW_ORDER = new Uint8Array(32); // u = 0: a point of small order

  test('a client advertising a low-order key is excluded by the server; the others still aggregate', async () => {
    const h = harness({ n: 5, threshold: 3, dim: 16, bits: 16, seed: 13 });
    const out: Outgoing[] = [];
    for (const c of h.clients) {
      let f = c.start()[0]!.frame;
      if (c.id === 3) f = rewrite(f, (m) => { m.sPk = LOW_ORDER; });
      out.push(...(await h.server.handle(c.id, f)));
    }
    expect(h.server.rejected.map((e) => e.sender)).toEqual([3]);
    const relay = await exchange(h, out, [3]);
    const unmask = await exchange(h, relay, [3]);
    await exchange(h, unmask, [3]);
    const res = h.server.result();
    expect(res.survivors).toEqual([1, 2, 4, 5]);
    expect(res.sum).toEqual(plainSum(h.inputs, res.survivors, 16));
  });

  test('a broadcast carrying a low-order key for a peer -> the client excludes that peer', async () => {
    const h = harness({ n: 5, threshold: 3, dim: 16, bits: 16, seed: 14 });
    const keys = await advertise(h);
    const forged = rewrite(frameFor(keys, 1), (m) => {
      const list = m.keys as { id: number; cPk: Uint8Array }[];
      list.find((k) => k.id === 4)!.cPk = LOW_ORDER;
    });
    const out = await h.clients[0]!.handle(forged);
    const peers = (raw.unpack(out[0]!.frame) as { shares: { peer: number }[] }).shares.map((s) => s.peer);
    expect(peers).toEqual([2, 3, 5]);
  });
});

describe('what the server sees', () => {
  test('masked vectors look uniform (chi-square on bytes) even for constant inputs', async () => {
    // b = 8, so every byte of a masked vector is one coordinate; inputs are all 7.
    const dim = 65536;
    const h = harness({ n: 4, threshold: 2, dim, bits: 8, seed: 15 });
    for (const x of h.inputs) x.fill(7);
    const keys = await advertise(h);
    const relay = await exchange(h, keys);
    const maskedFrames: Uint8Array[] = [];
    for (const [id, frames] of byRecipient(relay)) {
      const out = await h.clients[id - 1]!.handle(frames[0]!);
      maskedFrames.push((raw.unpack(out[0]!.frame) as { y: Uint8Array }).y);
    }
    // Chi-square with 255 degrees of freedom; the critical value at a false
    // failure rate of 1e-6 (Wilson-Hilferty, z = 4.753) is ~383. The seed is
    // fixed, so the test is deterministic.
    const df = 255;
    const z = 4.753;
    const critical = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
    for (const y of maskedFrames) {
      const counts = new Array<number>(256).fill(0);
      for (const b of y) counts[b]!++;
      const e = y.length / 256;
      const chi = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
      expect(chi).toBeLessThan(critical);
    }
    // The same statistic on an input is astronomically large.
    expect(critical).toBeLessThan(400);
  });

  test('the server-side transcript contains no input vector', async () => {
    const h = harness({ n: 5, threshold: 3, dim: 256, bits: 32, seed: 16 });
    const transcript: Uint8Array[] = [];
    const record = (out: Outgoing[]) => out.forEach((o) => transcript.push(o.frame));
    const keys: Outgoing[] = [];
    for (const c of h.clients) {
      const o = c.start();
      record(o);
      keys.push(...(await toServer(h, c.id, o)));
    }
    let serverOut = keys;
    while (h.server.stage !== 'Done') {
      const next: Outgoing[] = [];
      for (const [id, frames] of byRecipient(serverOut)) {
        for (const f of frames) {
          const o = await h.clients[id - 1]!.handle(f);
          record(o);
          next.push(...(await toServer(h, id, o)));
        }
      }
      serverOut = next;
    }
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const all = transcript.map(hex);
    for (const x of h.inputs) {
      const bytes = new Uint8Array(x.buffer);
      for (const off of [0, 400, 1000]) {
        const needle = hex(bytes.subarray(off, off + 16));
        for (const t of all) expect(t.includes(needle)).toBe(false);
      }
    }
    expect(h.server.result().sum).toEqual(plainSum(h.inputs, [1, 2, 3, 4, 5], 32));
  });
});

test('I4/I5: session ids differ across rounds with identical inputs and seeds otherwise', async () => {
  const a = harness({ n: 4, threshold: 2, dim: 8, bits: 8, seed: 17, round: 1 });
  const b = harness({ n: 4, threshold: 2, dim: 8, bits: 8, seed: 17, round: 2 });
  await advertise(a);
  await advertise(b);
  expect(Buffer.from(a.server.sessionId!).equals(Buffer.from(b.server.sessionId!))).toBe(false);
  expect(Buffer.from(roundTag(a.config)).equals(Buffer.from(roundTag(b.config)))).toBe(false);
});
