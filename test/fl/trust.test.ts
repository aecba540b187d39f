/**
 * The coordinator is the adversary. Each test is one attack by a malicious
 * coordinator written here (evil-coordinator.ts), speaking the real wire
 * format to real participants (runParticipant with the real SecAgg client),
 * and asserts both the client's typed refusal and what the coordinator's
 * transcript lets it reconstruct. Where the attack is not obvious, a
 * positive control shows that the same attack does recover the input
 * against a client running the insecure development policy.
 */
import { unpack } from 'msgpackr';
import { MemoryTransport } from '../../src/transport/memory.js';
import { runParticipant } from '../../src/fl/participant.js';
import { secAggProtocol } from '../../src/fl/secagg-protocol.js';
import { RoundCoordinator } from '../../src/fl/round-coordinator.js';
import { encodeMessage as encodeWire } from '../../src/transport/wire.js';
import { ed25519KeyPair, type Ed25519KeyPair } from '../../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../../src/crypto/certificate.js';
import { randomBytes } from '../../src/crypto/random.js';
import { x25519Agree, x25519KeyPair, x25519PublicKey } from '../../src/crypto/x25519.js';
import { shamirCombine } from '../../src/crypto/shamir.js';
import { prgAddInto } from '../../src/crypto/prg.js';
import { unpackBits } from '../../src/encode/pack.js';
import { roundTag } from '../../src/secagg/config.js';
import { pairMaskKey, pairSign, selfMaskKey, sessionId } from '../../src/secagg/derive.js';
import { encodeMessage as encodeSecAgg } from '../../src/secagg/messages.js';
import { encodeSurvivors } from '../../src/secagg/survivors.js';
import type { RosterEntry } from '../../src/secagg/roster.js';
import type { SecAggConfig } from '../../src/secagg/types.js';
import { insecureDevelopmentPolicy, makeClientPolicy, type ClientPolicy, type ClientPolicyInput } from '../../src/fl/policy.js';
import { planDistributedDp, type DistributedDpPlan } from '../../src/dp/plan.js';
import { planHash, unamplifiedEvent } from '../../src/dp/plan-verify.js';
import { decodeAggregate, privatizeUpdate } from '../../src/dp/pipeline.js';
import { ClientPrivacyLedger, memoryClientLedgerStore } from '../../src/dp/client-ledger.js';
import { RdpAccountant } from '../../src/dp/rdp.js';
import { selfComposedEvent } from '../../src/dp/events.js';
import { InvalidMessage, PolicyViolation, ThresholdNotMet } from '../../src/errors.js';
import { EvilCoordinator, sybil, type AttackRound, type Victim } from './evil-coordinator.js';

const authority = ed25519KeyPair();
const otherAuthority = ed25519KeyPair();
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
let serial = 100;
const certify = (kp: Ed25519KeyPair, by: Ed25519KeyPair = authority): Uint8Array =>
  encodeCertificate(issueCertificate(by.secretKey, { subject: kp.publicKey, serial: serial++, notBefore: 0, notAfter: 2 ** 40 }));

/** A deployment's policy: certified active rosters of >= 5, t - g >= 3. */
function strictPolicy(over: ClientPolicyInput = {}): ClientPolicy {
  return makeClientPolicy({ authorities: [hexOf(authority.publicKey)], minRoster: 5, minThreshold: 3, colluders: 0, minHonest: 3, ...over });
}

const DIM = 16;
const BITS = 16;

interface Honest {
  identity: Ed25519KeyPair;
  cert: Uint8Array;
  input: Uint32Array;
  touched: () => boolean;
  run: Promise<unknown>;
  outcome: Promise<unknown>;
}

/** Connect one real participant with its own policy; `outcome` resolves to its summary or its error. */
async function honestClient(transport: MemoryTransport, policy: ClientPolicy, extra: Partial<Parameters<typeof runParticipant>[0]> = {}): Promise<Honest> {
  const identity = ed25519KeyPair();
  const cert = certify(identity);
  const input = new Uint32Array(DIM).map((_, i) => (i * 977 + 13) & 0xffff);
  let touched = false;
  const run = runParticipant({
    channel: await transport.connect(), identity, protocol: secAggProtocol, policy, certificate: cert,
    input: () => {
      touched = true;
      return input;
    },
    ...extra,
  });
  const outcome = run.then((s) => s, (e: unknown) => e);
  return { identity, cert, input, touched: () => touched, run, outcome };
}

async function setup(count: number, policy: ClientPolicy | ((i: number) => ClientPolicy)): Promise<{ evil: EvilCoordinator; clients: Honest[]; victims: Victim[] }> {
  const transport = new MemoryTransport();
  const evil = new EvilCoordinator();
  await evil.listen(transport);
  const clients: Honest[] = [];
  for (let i = 0; i < count; i++) clients.push(await honestClient(transport, typeof policy === 'function' ? policy(i) : policy));
  const victims = await evil.waitReady(count);
  // Keep victims in the same order as the clients (by key).
  victims.sort((a, b) => clients.findIndex((c) => hexOf(c.identity.publicKey) === hexOf(a.pk!)) - clients.findIndex((c) => hexOf(c.identity.publicKey) === hexOf(b.pk!)));
  return { evil, clients, victims };
}

const entry = (id: number, key: Uint8Array, certificate: Uint8Array = new Uint8Array(0)): RosterEntry => ({ id, key, certificate });
const vectorRound = (over: Partial<AttackRound> & Pick<AttackRound, 'n' | 'threshold' | 'entries' | 'mode'>): AttackRound => ({ round: 1, dim: DIM, bits: BITS, task: { kind: 'vector' }, ...over });

/** The coordinator's best reconstruction of client `v`'s input from its transcript: needs t seed shares and t key shares of v. */
function reconstruct(evil: EvilCoordinator, config: SecAggConfig, v: number): Uint32Array | undefined {
  const sid = sessionId(roundTag(config));
  const adv = new Map(evil.transcript('AdvertiseKeys').map((a) => [a.index, a.msg as { sPk: Uint8Array }]));
  const responses = evil.transcript('UnmaskResponse');
  const shares = (kind: 'seedShares' | 'keyShares') => responses.flatMap((r) => (r.msg[kind] as Array<{ of: number; y: Uint8Array }>).filter((s) => s.of === v).map((s) => ({ x: r.index, y: new Uint8Array(s.y) })));
  const seedShares = shares('seedShares');
  const keyShares = shares('keyShares');
  if (seedShares.length < config.threshold || keyShares.length < config.threshold) return undefined;
  const seed = shamirCombine(seedShares, config.threshold);
  const sk = shamirCombine(keyShares, config.threshold);
  if (hexOf(x25519PublicKey(sk)) !== hexOf(adv.get(v)!.sPk)) return undefined;
  const masked = evil.transcript('MaskedInput').find((m) => m.index === v);
  if (!masked) return undefined;
  const y = unpackBits(new Uint8Array(masked.msg.y as Uint8Array), config.bits, config.dim);
  prgAddInto(selfMaskKey(seed, sid, v), y, config.bits, -1);
  for (const [w, keys] of adv) {
    if (w === v) continue;
    prgAddInto(pairMaskKey(x25519Agree(sk, keys.sPk), sid, v, w), y, config.bits, pairSign(v, w) === 1 ? -1 : 1);
  }
  return y;
}

const settle = async (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('sybil rosters', () => {
  test('positive control: with the development policy a 2-member roster (victim + 1 sybil) gives the coordinator the input exactly', async () => {
    const { evil, clients, victims } = await setup(1, insecureDevelopmentPolicy());
    const s = sybil();
    const a = vectorRound({ n: 2, threshold: 2, mode: 'semi-honest', entries: [entry(1, clients[0]!.identity.publicKey, clients[0]!.cert), entry(2, s.keys.publicKey)] });
    const seed = evil.sendRound(a, victims, [1]);
    const sybilInput = new Uint32Array(DIM).fill(7);
    evil.runServer(a, seed, [{ id: 2, input: sybilInput }]);
    await evil.startSybils();
    while (evil.server!.stage !== 'Done') await settle(10);
    const sum = evil.server!.result().sum;
    const recovered = sum.map((x, i) => (x - sybilInput[i]! + 65536) & 0xffff);
    expect(Array.from(recovered)).toEqual(Array.from(clients[0]!.input));
  });

  test.each([
    ['uncertified sybils', () => sybil()],
    ['sybils certified by another authority', () => sybil(otherAuthority, serial++)],
  ])('%s: the client refuses (authorities) before touching its data, and sends nothing', async (_name, makeSybil) => {
    const { evil, clients, victims } = await setup(1, strictPolicy());
    const sybils = Array.from({ length: 9 }, makeSybil);
    const a = vectorRound({ n: 10, threshold: 6, mode: 'active', entries: [entry(1, clients[0]!.identity.publicKey, clients[0]!.cert), ...sybils.map((s, i) => entry(i + 2, s.keys.publicKey, s.certificate))] });
    evil.sendRound(a, victims, [1]);
    const err = await clients[0]!.outcome;
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).field).toBe('authorities');
    expect(clients[0]!.touched()).toBe(false);
    expect(victims[0]!.sent).toEqual([]);
  });

  test('too few certified peers: a roster of 3 real certified clients is below the policy minimum', async () => {
    const { evil, clients, victims } = await setup(3, strictPolicy());
    const a = vectorRound({ n: 3, threshold: 3, mode: 'active', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    evil.sendRound(a, victims, [1, 2, 3]);
    for (const c of clients) {
      const err = await c.outcome;
      expect(err).toBeInstanceOf(PolicyViolation);
      expect((err as PolicyViolation).field).toBe('minRoster');
      expect(c.touched()).toBe(false);
    }
  });

  test('a revoked certificate in the roster is refused', async () => {
    const { evil, clients, victims } = await setup(5, (i) => i === 0 ? strictPolicy({ revocations: [] }) : strictPolicy());
    // Client 0 pins a revocation list naming client 4's serial.
    const { signRevocationList, decodeCertificate } = await import('../../src/crypto/certificate.js');
    const revoked = decodeCertificate(clients[4]!.cert)!.serial;
    const crl = signRevocationList(authority.secretKey, { issuedAt: 1, serials: [revoked] });
    const policy = strictPolicy({ revocations: [{ authority: hexOf(crl.authority), issuedAt: crl.issuedAt, serials: [...crl.serials], signature: hexOf(crl.signature) }] });
    const transport = new MemoryTransport();
    const evil2 = new EvilCoordinator();
    await evil2.listen(transport);
    const victim = await honestClient(transport, policy);
    const [v] = await evil2.waitReady(1);
    const a = vectorRound({ n: 5, threshold: 3, mode: 'active', entries: [entry(1, victim.identity.publicKey, victim.cert), ...clients.slice(1).map((c, i) => entry(i + 2, c.identity.publicKey, c.cert))] });
    evil2.sendRound(a, [v!], [1]);
    const err = await victim.outcome;
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).field).toBe('authorities');
    expect((err as Error).message).toContain('revoked');
    void evil;
    void victims;
  });
});

describe('mode, thresholds and identity', () => {
  test('a downgrade to semi-honest mode is refused (mode)', async () => {
    const { evil, clients, victims } = await setup(5, strictPolicy());
    const a = vectorRound({ n: 5, threshold: 3, mode: 'semi-honest', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    evil.sendRound(a, victims, [1, 2, 3, 4, 5]);
    for (const c of clients) {
      const err = await c.outcome;
      expect((err as PolicyViolation).field).toBe('mode');
      expect(c.touched()).toBe(false);
    }
  });

  test('a threshold that is not a majority of the share holders is refused (colluders), since two survivor sets could each collect t holders', async () => {
    const { evil, clients, victims } = await setup(6, strictPolicy({ minHonest: 2, minThreshold: 3 }));
    // Real SecAgg accepts t = 4 with k + 1 = 6 holders in active mode (2t > k + 1 fails: 8 > 6 holds)... so use t = 3: 6 > 6 fails.
    const a = vectorRound({ n: 6, threshold: 3, mode: 'active', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    evil.sendRound(a, victims, [1, 2, 3, 4, 5, 6]);
    for (const c of clients) expect(((await c.outcome) as PolicyViolation).field).toBe('colluders');
  });

  test("the client's key under another id: another key at its own id, or its key listed twice, is refused (identity)", async () => {
    const { evil, clients, victims } = await setup(5, strictPolicy());
    const keys = clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert));
    // Client 0 is told it is id 1, but id 1 holds client 1's key and client 0's key sits at id 2.
    const swapped = [entry(1, keys[1]!.key, keys[1]!.certificate), entry(2, keys[0]!.key, keys[0]!.certificate), ...keys.slice(2)];
    evil.sendRound(vectorRound({ n: 5, threshold: 3, mode: 'active', entries: swapped }), [victims[0]!], [1]);
    expect(((await clients[0]!.outcome) as PolicyViolation).field).toBe('identity');
    // Client 2 is listed at its id 3 and again at id 4.
    const twice = [...keys.slice(0, 3), entry(4, keys[2]!.key, keys[2]!.certificate), keys[4]!];
    evil.sendRound(vectorRound({ n: 5, threshold: 3, mode: 'active', entries: twice }), [victims[2]!], [3]);
    expect(((await clients[2]!.outcome) as PolicyViolation).field).toBe('identity');
    expect(clients[0]!.touched() || clients[2]!.touched()).toBe(false);
  });
});

/** Run an honest-looking active round through the evil coordinator's real server; `tamper` edits frames. */
async function relayRound(evil: EvilCoordinator, clients: Honest[], victims: Victim[], a: AttackRound): Promise<Uint8Array> {
  const seed = evil.sendRound(a, victims, victims.map((_, i) => i + 1));
  evil.runServer(a, seed, []);
  return seed;
}

describe('split view', () => {
  const n = 5;
  const v = 5; // the victim: holders 1, 2 are told it survived, 3, 4 that it dropped

  test('positive control: semi-honest, t = 2 of 5, different survivor sets recover the victim input exactly', async () => {
    const { evil, clients, victims } = await setup(n, insecureDevelopmentPolicy());
    const a = vectorRound({ n, threshold: 2, mode: 'semi-honest', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    evil.tamper = (to, frame) => {
      const m = unpack(frame) as Record<string, unknown>;
      if (m.type === 'UnmaskRequest' && (to === 3 || to === 4)) return encodeSecAgg({ ...(m as object), survivors: encodeSurvivors([1, 2, 3, 4], n) } as never);
      return frame;
    };
    await relayRound(evil, clients, victims, a);
    for (let i = 0; i < 100 && evil.transcript('UnmaskResponse').length < n; i++) await settle(20);
    const x = reconstruct(evil, evil.config!, v);
    expect(x && Array.from(x)).toEqual(Array.from(clients[v - 1]!.input));
  });

  test('active, t = 3 of 5: the holders shown the other set cannot gather t signatures and reveal nothing; the key of the victim cannot be rebuilt', async () => {
    const { evil, clients, victims } = await setup(n, strictPolicy({ dp: { required: false } }));
    const a = vectorRound({ n, threshold: 3, mode: 'active', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    const short = encodeSurvivors([1, 2, 3, 4], n);
    evil.tamper = (to, frame) => {
      const m = unpack(frame) as Record<string, unknown>;
      if (m.type === 'ConsistencyRequest' && (to === 3 || to === 4)) return encodeSecAgg({ ...(m as object), survivors: short } as never);
      return frame;
    };
    await relayRound(evil, clients, victims, a);
    for (let i = 0; i < 100 && evil.transcript('ConsistencySignature').length < n; i++) await settle(20);
    // The attacker now asks 3 and 4 to unmask under the set they signed, with every signature it has on it.
    const sigs = evil.transcript('ConsistencySignature').filter((s) => s.index === 3 || s.index === 4).map((s) => ({ id: s.index, sig: s.msg.sig as Uint8Array })).sort((x, y) => x.id - y.id);
    const sid = sessionId(roundTag(evil.config!));
    for (const id of [3, 4]) {
      victims[id - 1]!.channel.send(encodeWire({ t: 'frame', round: 1, payload: encodeSecAgg({ type: 'UnmaskRequest', v: 1, sid, survivors: short, sigs }) }));
    }
    for (const id of [3, 4]) expect(await clients[id - 1]!.outcome).toBeInstanceOf(ThresholdNotMet);
    for (let i = 0; i < 50 && evil.transcript('UnmaskResponse').length < 3; i++) await settle(20);
    const keyShares = evil.transcript('UnmaskResponse').flatMap((r) => (r.msg.keyShares as Array<{ of: number }>).filter((s) => s.of === v));
    expect(keyShares.length).toBeLessThan(a.threshold);
    expect(reconstruct(evil, evil.config!, v)).toBeUndefined();
  });
});

describe('a key swapped in the broadcast', () => {
  test('active: advertisements with swapped keys fail their signatures; the client excludes them and, left below t, sends no masked input', async () => {
    const { evil, clients, victims } = await setup(5, strictPolicy({ dp: { required: false } }));
    const a = vectorRound({ n: 5, threshold: 3, mode: 'active', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    const attackerKeys = [2, 3, 4, 5].map(() => x25519KeyPair());
    evil.tamper = (to, frame) => {
      const m = unpack(frame) as { type: string; keys?: Array<Record<string, unknown>> };
      if (m.type !== 'KeysBroadcast' || to !== 1) return frame;
      // Every peer's keys replaced by ones the coordinator holds (their signatures kept).
      const keys = m.keys!.map((k) => (k.id === 1 ? k : { ...k, cPk: attackerKeys[(k.id as number) - 2]!.publicKey, sPk: attackerKeys[(k.id as number) - 2]!.publicKey }));
      return encodeSecAgg({ ...(m as object), keys: keys as never } as never);
    };
    await relayRound(evil, clients, victims, a);
    expect(await clients[0]!.outcome).toBeInstanceOf(ThresholdNotMet);
    expect(victims[0]!.sent.map((s) => s.type)).toEqual(['AdvertiseKeys']);
    expect(reconstruct(evil, evil.config!, 1)).toBeUndefined();
  });
});

describe('the DP plan', () => {
  const n = 5;
  const modelDim = 20;
  const global = new Uint8Array(new Float32Array(modelDim).buffer);
  const honestPlan = (): DistributedDpPlan => planDistributedDp({ clipNorm: 1, noiseMultiplier: 1.2, expectedClients: n, maxClients: n, minClients: n, dim: modelDim, bits: 20, mechanism: 'ddg' });
  const trainRound = (clients: Honest[], plan: unknown): AttackRound => ({
    round: 1, n, threshold: 3, minSurvivors: n, mode: 'active', dim: (plan as DistributedDpPlan).paddedDim, bits: 20,
    entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)),
    task: { kind: 'train', model: 'softmax:4:4', global, range: 4, dp: plan as Record<string, unknown> },
  });

  test('the attack is real: a plan with local sigma 1e-9 lets one decoded update through almost exactly', () => {
    const p = honestPlan();
    const weak = { ...p, localNoise: { kind: 'discrete_gaussian' as const, sigma: 1e-9 } };
    const update = new Float32Array(modelDim).map((_, i) => 0.01 * (i - 10));
    const decoded = decodeAggregate(privatizeUpdate(update, weak as DistributedDpPlan), weak as DistributedDpPlan, 1);
    const err = Math.max(...Array.from(update, (u, i) => Math.abs(u - decoded[i]!)));
    expect(err).toBeLessThan(1e-3);
    // The plan's own event still claims the honest noise.
    expect(weak.event).toEqual(p.event);
  });

  const forgeries: Array<[string, (p: DistributedDpPlan) => unknown, string]> = [
    ['local sigma 1e-9 under the honest event', (p) => ({ ...p, localNoise: { kind: 'discrete_gaussian', sigma: 1e-9 } }), 'dp.localNoise'],
    ['a larger clip than the policy allows', () => planDistributedDp({ clipNorm: 50, noiseMultiplier: 1.2, expectedClients: n, maxClients: n, minClients: n, dim: modelDim, bits: 20, mechanism: 'ddg' }), 'dp.maxClip'],
    ['less noise (z below the floor)', () => planDistributedDp({ clipNorm: 1, noiseMultiplier: 0.1, expectedClients: n, maxClients: n, minClients: n, dim: modelDim, bits: 20, mechanism: 'ddg' }), 'dp.minNoiseMultiplier'],
    ['an event that does not match the plan', (p) => ({ ...p, event: { ...(p.event as unknown as Record<string, unknown>), sigma: (p.event as unknown as { sigma: number }).sigma * 10 } }), 'dp.event'],
  ];
  test.each(forgeries)('%s: refused before the data is touched, nothing sent', async (_name, forge, field) => {
    const { evil, clients, victims } = await setup(n, strictPolicy());
    const plan = forge(honestPlan());
    evil.sendRound(trainRound(clients, plan), victims, [1, 2, 3, 4, 5]);
    for (const c of clients) {
      const err = await c.outcome;
      expect(err).toBeInstanceOf(PolicyViolation);
      expect((err as PolicyViolation).field).toBe(field);
      expect(c.touched()).toBe(false);
    }
    expect(victims.every((v) => v.sent.length === 0)).toBe(true);
  });

  test('a plan calibrated for more honest clients than the SecAgg+ threshold allows is refused (honest minimum)', async () => {
    const { evil, clients, victims } = await setup(1, strictPolicy());
    // 70 clients on a Harary graph of degree 8, t = 6: decodable groups of 6; the plan counts on 70.
    const big = 70;
    const sybils = Array.from({ length: big - 1 }, () => sybil(authority, serial++));
    const plan = planDistributedDp({ clipNorm: 1, noiseMultiplier: 1.2, expectedClients: big, maxClients: big, minClients: big, dim: modelDim, bits: 24, mechanism: 'ddg' });
    const a: AttackRound = {
      round: 1, n: big, threshold: 6, minSurvivors: big, graph: 'harary', degree: 8, mode: 'active', dim: plan.paddedDim, bits: 24,
      entries: [entry(1, clients[0]!.identity.publicKey, clients[0]!.cert), ...sybils.map((s, i) => entry(i + 2, s.keys.publicKey, s.certificate))],
      task: { kind: 'train', model: 'softmax:4:4', global, range: 4, dp: plan as unknown as Record<string, unknown> },
    };
    evil.sendRound(a, victims, [1]);
    const err = await clients[0]!.outcome;
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).field).toBe('dp.honestMinimum');
  });
});

describe('round commitment', () => {
  test('a different global model sent to one client: its round tag differs, it cannot take part, and its update never leaves it', async () => {
    const { evil, clients, victims } = await setup(5, strictPolicy({ dp: { required: false } }));
    const modelA = new Uint8Array(new Float32Array(8).fill(0.5).buffer);
    const modelB = new Uint8Array(new Float32Array(8).fill(-0.5).buffer);
    const a: AttackRound = { round: 1, n: 5, threshold: 3, mode: 'active', dim: DIM, bits: BITS, entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)), task: { kind: 'train', model: 'softmax:2:2', global: modelA, range: 4 } };
    let broadcast: Uint8Array | undefined;
    evil.tamper = (_to, frame) => {
      const m = unpack(frame) as Record<string, unknown>;
      if (m.type === 'KeysBroadcast') broadcast ??= frame;
      return frame;
    };
    // The victim (id 5) is sent model B; everyone else model A.
    const seed = evil.sendRound(a, victims, [1, 2, 3, 4, 5], (i, m) => (i === 4 ? { ...m, task: { kind: 'train', model: 'softmax:2:2', global: modelB, range: 4 } } : m));
    evil.runServer(a, seed, []);
    // The attacker re-tags the key broadcast for the victim with the victim's own round tag.
    const { makeConfig } = await import('../../src/secagg/config.js');
    const { sha256 } = await import('../../src/crypto/hash.js');
    const victimConfig = makeConfig({ ...evil.config!, verifyKeys: [...evil.config!.verifyKeys!], commitment: { ...evil.config!.commitment, modelHash: sha256(modelB) } });
    const victimTag = roundTag(victimConfig);
    for (let i = 0; i < 100 && !broadcast; i++) await settle(20);
    const m = unpack(broadcast!) as { keys: Array<Record<string, unknown>> };
    const own = unpack(victims[4]!.sent[0]!.payload) as Record<string, unknown>;
    victims[4]!.index = 5;
    victims[4]!.channel.send(encodeWire({ t: 'frame', round: 1, payload: encodeSecAgg({ type: 'KeysBroadcast', v: 1, round: victimTag, keys: [...m.keys.filter((k) => k.id !== 5), { id: 5, cPk: own.cPk, sPk: own.sPk, seedCommit: own.seedCommit, sig: own.sig }] as never }) }));
    expect(await clients[4]!.outcome).toBeInstanceOf(ThresholdNotMet);
    expect(victims[4]!.sent.map((s) => s.type)).toEqual(['AdvertiseKeys']);
    // The others' round went on without the victim (its advertisement carried another round tag).
    for (let i = 0; i < 200 && evil.server!.stage !== 'Done' && evil.server!.stage !== 'Aborted'; i++) await settle(20);
    expect(evil.server!.stage).toBe('Done');
    expect(evil.server!.result().survivors).toEqual([1, 2, 3, 4]);
  });

  test('a replayed old round, or one whose number does not advance, is refused (replay)', async () => {
    const { evil, clients, victims } = await setup(5, strictPolicy({ dp: { required: false } }));
    const a = vectorRound({ n: 5, threshold: 3, mode: 'active', entries: clients.map((c, i) => entry(i + 1, c.identity.publicKey, c.cert)) });
    const seed = evil.sendRound(a, victims, [1, 2, 3, 4, 5]);
    evil.runServer(a, seed, []);
    for (let i = 0; i < 200 && evil.server!.stage !== 'Done'; i++) await settle(20);
    expect(evil.server!.stage).toBe('Done');
    for (const v of victims) v.channel.send(encodeWire({ t: 'result', round: 1, ok: true, included: true, survivors: 5, reason: '' }));
    // The same round again (same seed): its round tag was already used.
    evil.sendRound({ ...a, seed }, [victims[0]!], [1]);
    expect(((await clients[0]!.outcome) as PolicyViolation).field).toBe('replay');
    // A fresh round with an older number.
    evil.sendRound({ ...a, round: 0 }, [victims[1]!], [2]);
    expect(((await clients[1]!.outcome) as PolicyViolation).field).toBe('replay');
  });
});

describe("the client's own budget", () => {
  test('a client with budget epsilon stops taking part exactly when the next round would exceed it', async () => {
    const n = 5;
    const modelDim = 12;
    const transport = new MemoryTransport();
    const planFor = (params: { minSurvivors: number }) => planDistributedDp({ clipNorm: 1, noiseMultiplier: 3, expectedClients: n, maxClients: n, minClients: params.minSurvivors, dim: modelDim, bits: 20, mechanism: 'ddg' });
    const probe = planFor({ minSurvivors: n });
    const event = unamplifiedEvent(probe);
    const budget = 2.5;
    // Independent expectation: the largest K with RDP epsilon of K rounds <= budget.
    let K = 0;
    while (new RdpAccountant().compose(selfComposedEvent(event, K + 1)).epsilon(1e-5) <= budget) K++;
    expect(K).toBeGreaterThan(0);
    const coordinator = new RoundCoordinator({
      transport, protocol: secAggProtocol, enrolment: { enrolled: new Set() }, authorities: [authority.publicKey],
      dim: probe.paddedDim, bits: 20, minClients: n, maxClients: n, rounds: K + 3, mode: 'active', colluders: 0, minSurvivors: () => n,
      planHash: (p) => planHash(p as unknown as DistributedDpPlan),
      task: (_round, _n, params) => ({ kind: 'train', model: 'softmax:3:3', global: new Uint8Array(modelDim * 4), range: 4, dp: planFor(params) as unknown as Record<string, unknown> }),
    });
    await coordinator.start();
    const policy = strictPolicy({ budget: { epsilon: budget, delta: 1e-5 } });
    const runs = [];
    const ledgers: ClientPrivacyLedger[] = [];
    for (let i = 0; i < n; i++) {
      const identity = ed25519KeyPair();
      const ledger = await ClientPrivacyLedger.open(memoryClientLedgerStore(), { signingKey: identity.secretKey, budget: { epsilon: budget, delta: 1e-5 } });
      ledgers.push(ledger);
      runs.push(runParticipant({
        channel: await transport.connect(), identity, protocol: secAggProtocol, policy, certificate: certify(identity), ledger,
        input: (info) => privatizeUpdate(new Float32Array(modelDim).fill(0.01), info.checked.plan!),
      }).then((s) => s, (e: unknown) => e));
    }
    const outcomes = await Promise.all(runs);
    await coordinator.stop();
    for (let i = 0; i < n; i++) {
      expect(outcomes[i]).toBeInstanceOf(PolicyViolation);
      expect((outcomes[i] as PolicyViolation).field).toBe('budget.epsilon');
      expect(ledgers[i]!.privacySpent().participations).toBe(K);
      expect(ledgers[i]!.privacySpent().epsilon).toBeLessThanOrEqual(budget);
    }
  }, 120000);
});

void randomBytes;
void InvalidMessage;
