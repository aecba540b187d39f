/**
 * A malicious coordinator for the trust tests: it speaks fedveil's real wire
 * format (transport/wire.ts, session.ts) to real participants
 * (runParticipant), builds whatever round it likes (its own roster, sybil
 * identities, mode, plan, model, commitments with valid Merkle proofs for
 * its own roster), and can run a real SecAggServer with sybil SecAggClients
 * of its own, tampering with any frame on the way. It records everything the
 * honest clients send, so a test can try to reconstruct their inputs from
 * exactly what a coordinator sees.
 */
import { unpack } from 'msgpackr';
import { randomBytes } from '../../src/crypto/random.js';
import { sha256 } from '../../src/crypto/hash.js';
import { ed25519KeyPair, type Ed25519KeyPair } from '../../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../../src/crypto/certificate.js';
import { makeConfig } from '../../src/secagg/config.js';
import { neighbourGraph } from '../../src/secagg/graph.js';
import { RosterCommitment, type RosterEntry } from '../../src/secagg/roster.js';
import { SecAggClient } from '../../src/secagg/client.js';
import { SecAggServer } from '../../src/secagg/server.js';
import type { Outgoing, SecAggConfig } from '../../src/secagg/types.js';
import { channelBinding, verifyAuth, verifyEnvelope } from '../../src/transport/session.js';
import { decodeClientMessage, encodeMessage, WIRE_VERSION, type RoundConfigWire, type RoundTask } from '../../src/transport/wire.js';
import type { Channel, ServerTransport } from '../../src/transport/channel.js';

export interface Victim {
  readonly channel: Channel;
  readonly nonce: Uint8Array;
  pk?: Uint8Array;
  cert?: Uint8Array;
  binding?: Uint8Array;
  ready: boolean;
  closed: boolean;
  /** Every SecAgg frame this client sent, with its type tag. */
  readonly sent: Array<{ round: number; type: string; payload: Uint8Array }>;
  /** Roster id in the current attack round. */
  index?: number;
}

export interface AttackRound {
  round: number;
  n: number;
  threshold: number;
  minSurvivors?: number;
  graph?: 'full' | 'harary';
  degree?: number;
  mode: 'semi-honest' | 'active';
  dim: number;
  bits: number;
  /** The roster, index id-1: the victims' real keys and whatever the attacker adds. */
  entries: RosterEntry[];
  task: RoundTask;
  seed?: Uint8Array;
  /** Plan hash the attacker commits to on its own server (default: zero, i.e. no plan). */
  planHash?: Uint8Array;
}

/** A sybil: an identity the coordinator made, optionally certified by some authority. */
export function sybil(authority?: Ed25519KeyPair, serial = 1): { keys: Ed25519KeyPair; certificate: Uint8Array } {
  const keys = ed25519KeyPair();
  const certificate = authority
    ? encodeCertificate(issueCertificate(authority.secretKey, { subject: keys.publicKey, serial, notBefore: 0, notAfter: 2 ** 40 }))
    : new Uint8Array(0);
  return { keys, certificate };
}

export class EvilCoordinator {
  readonly session = randomBytes(32);
  readonly victims: Victim[] = [];
  private readyWaiters: Array<() => void> = [];
  server: SecAggServer | undefined;
  config: SecAggConfig | undefined;
  private sybils = new Map<number, SecAggClient>();
  private currentRound = -1;
  /** Rewrite (or drop, with undefined) a server frame before it reaches client `to`. */
  tamper: ((to: number, frame: Uint8Array) => Uint8Array | undefined) | undefined;

  async listen(transport: ServerTransport): Promise<void> {
    await transport.listen((channel) => this.accept(channel));
  }

  private accept(channel: Channel): void {
    const v: Victim = { channel, nonce: randomBytes(32), ready: false, closed: false, sent: [] };
    this.victims.push(v);
    channel.onClose(() => (v.closed = true));
    channel.onMessage((frame) => void this.onFrame(v, frame));
    channel.send(encodeMessage({ t: 'hello', v: WIRE_VERSION, nonce: v.nonce, session: this.session, name: 'evil' }));
  }

  private async onFrame(v: Victim, frame: Uint8Array): Promise<void> {
    const msg = decodeClientMessage(frame);
    if (msg.t === 'auth') {
      if (!verifyAuth(msg.pk, v.nonce, this.session, msg.sig)) throw new Error('evil coordinator: bad auth');
      v.pk = msg.pk;
      if (msg.cert) v.cert = msg.cert;
      v.binding = channelBinding(v.nonce, this.session, msg.pk);
      v.channel.send(encodeMessage({ t: 'welcome', identity: Buffer.from(msg.pk).toString('hex') }));
      return;
    }
    if (msg.t === 'ready') {
      v.ready = true;
      for (const w of this.readyWaiters.splice(0)) w();
      return;
    }
    if (!verifyEnvelope(v.pk!, v.binding!, msg.seq, msg.round, msg.payload, msg.sig)) throw new Error('evil coordinator: bad envelope');
    const type = String((unpack(msg.payload) as { type?: unknown }).type);
    v.sent.push({ round: msg.round, type, payload: msg.payload });
    if (this.server && v.index !== undefined && msg.round === this.currentRound) await this.toServer(v.index, msg.payload);
  }

  /** Resolve once `count` clients have authenticated and said ready. */
  async waitReady(count: number): Promise<Victim[]> {
    while (this.victims.filter((v) => v.ready).length < count) await new Promise<void>((r) => this.readyWaiters.push(r));
    return this.victims.filter((v) => v.ready);
  }

  /** The wire config one member receives: its own and its share holders' roster entries with valid proofs. */
  wireConfig(a: AttackRound, index: number, seed: Uint8Array): RoundConfigWire {
    const roster = new RosterCommitment(a.entries);
    const graph = a.graph ?? 'full';
    const degree = graph === 'full' ? a.n - 1 : a.degree!;
    const g = neighbourGraph({ n: a.n, graph, degree, seed, round: a.round });
    const ids = graph === 'full' ? a.entries.map((e) => e.id) : g.holders(index);
    const withProof = graph !== 'full';
    return {
      n: a.n, threshold: a.threshold, minSurvivors: a.minSurvivors ?? a.threshold, bits: a.bits, dim: a.dim, graph, degree, mode: a.mode, seed,
      stageTimeoutMs: 600000, maxFrameBytes: 1 << 24,
      roster: { root: roster.root, entries: ids.map((id) => ({ id, key: roster.entry(id).key, cert: roster.entry(id).certificate, proof: withProof ? roster.proof(id).path.slice() : [] })) },
    };
  }

  /** Send the round to the victims at the given roster ids (victims[i] gets ids[i]); optionally per-victim overrides. */
  sendRound(a: AttackRound, victims: Victim[], ids: number[], override?: (i: number, msg: { config: RoundConfigWire; task: RoundTask; index: number }) => { config: RoundConfigWire; task: RoundTask; index: number }): Uint8Array {
    const seed = a.seed ?? randomBytes(32);
    this.currentRound = a.round;
    victims.forEach((v, i) => {
      v.index = ids[i]!;
      let m = { config: this.wireConfig(a, ids[i]!, seed), task: a.task, index: ids[i]! };
      if (override) m = override(i, m);
      v.channel.send(encodeMessage({ t: 'round', round: a.round, index: m.index, config: m.config, task: m.task }));
    });
    return seed;
  }

  /**
   * Run a real SecAgg server for the attack round, with sybil SecAggClients
   * (inputs chosen by the attacker) at `sybilIds`. The server's round
   * commitment is what an honest client computes for the round sent.
   */
  runServer(a: AttackRound, seed: Uint8Array, sybilIds: Array<{ id: number; signingKey?: Uint8Array; input: Uint32Array }>): void {
    const graph = a.graph ?? 'full';
    this.config = makeConfig({
      n: a.n, threshold: a.threshold, minSurvivors: a.minSurvivors ?? a.threshold, dim: a.dim, bits: a.bits, graph, mode: a.mode,
      ...(graph === 'harary' ? { degree: a.degree! } : {}), seed, round: a.round, stageTimeoutMs: 600000, limits: { maxFrameBytes: 1 << 24 },
      ...(a.mode === 'active' ? { verifyKeys: a.entries.map((e) => e.key) } : {}),
      commitment: {
        rosterRoot: new RosterCommitment(a.entries).root,
        planHash: a.planHash ?? new Uint8Array(32),
        modelHash: a.task.kind === 'train' ? sha256(a.task.global) : new Uint8Array(32),
        coordinatorSession: this.session,
      },
    });
    this.server = new SecAggServer({ config: this.config });
    this.sybils = new Map(sybilIds.map((s) => [s.id, new SecAggClient({ id: s.id, config: this.config!, input: s.input, ...(s.signingKey ? { signingKey: s.signingKey } : {}) })]));
  }

  /** Start the sybils (their AdvertiseKeys go to the server). */
  async startSybils(): Promise<void> {
    for (const [id, c] of this.sybils) await this.toServer(id, c.start()[0]!.frame);
  }

  async toServer(from: number, frame: Uint8Array): Promise<void> {
    await this.route(await this.server!.handle(from, frame));
  }

  /** Close the current stage on the server (silent clients become dropouts). */
  async deadline(): Promise<void> {
    await this.route(await this.server!.deadline());
  }

  private async route(out: Outgoing[]): Promise<void> {
    for (const o of out) {
      if (o.to === 'server') continue;
      const frame = this.tamper ? this.tamper(o.to, o.frame) : o.frame;
      if (frame === undefined) continue;
      const s = this.sybils.get(o.to);
      if (s) {
        let replies: Outgoing[] = [];
        try {
          replies = await s.handle(frame);
        } catch {
          continue; // an aborted sybil is just a dropout
        }
        for (const r of replies) await this.toServer(o.to, r.frame);
        continue;
      }
      const v = this.victims.find((x) => x.index === o.to && !x.closed);
      v?.channel.send(encodeMessage({ t: 'frame', round: this.currentRound, payload: frame }));
    }
  }

  /** Payloads of a given type that victims sent (the coordinator's transcript). */
  transcript(type: string): Array<{ index: number; msg: Record<string, unknown> }> {
    const out: Array<{ index: number; msg: Record<string, unknown> }> = [];
    for (const v of this.victims) for (const s of v.sent) if (s.type === type) out.push({ index: v.index ?? 0, msg: unpack(s.payload) as Record<string, unknown> });
    return out;
  }
}
