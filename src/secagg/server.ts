/**
 * SecAgg server state machine (Bonawitz et al. CCS'17, Fig. 4 and §4;
 * SecAgg+ neighbourhoods of Bell et al. CCS'20).
 *
 * Stages and the client sets of the paper:
 *   AdvertiseKeys          U1: valid advertisements   -> KeysBroadcast
 *   ShareKeys              U2: valid share bundles    -> SharesRelay (routing)
 *   MaskedInputCollection  U3: valid masked inputs, summed on arrival
 *   ConsistencyCheck       U4: valid signatures on U3 (active mode only)
 *   Unmasking              responses -> reconstruct, unmask -> Done
 * A stage advances when every expected client has answered, or when the
 * transport calls `deadline()`. Fewer than t clients at any stage: Aborted
 * with ThresholdNotMet (I2 on the server side); the sum is never released.
 *
 * Unmasking cost: one PRG expansion per survivor (self mask) plus one per
 * (dropped client, surviving neighbour) pair: (#dropped x k + #survivors),
 * all removed in one cache-blocked pass over the sum (unmask.ts).
 *
 * Robustness (I3): a frame that fails validation is recorded in `rejected`
 * (InvalidMessage naming the sender) and its sender is treated as a dropout.
 * A client whose masked input is already in the sum cannot be taken out
 * again; after a bad frame it is silenced: the frame is recorded, its later
 * frames are ignored and stages no longer wait for it (its masks are still
 * removed via the other holders' shares). Reconstructed secrets are checked
 * against what the client advertised (the mask public key, the seed
 * commitment), so wrong shares abort the round instead of corrupting the sum.
 */
import { FedveilError, InvalidMessage, ProtocolAborted, ThresholdNotMet } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import {
  addModInto, ed25519Verify, isFieldElement, shamirCombine, unpackBits, x25519Agree, x25519PublicKey, x25519ValidatePublicKey,
  type ShamirShare,
} from './primitives.js';
import { removeMasks } from './unmask.js';
import { encodeSurvivors } from './survivors.js';
import { roundTag } from './config.js';
import { neighbourGraph, type NeighbourGraph } from './graph.js';
import { decodeMessage, encodeMessage } from './messages.js';
import {
  advertiseStatement, consistencyStatement, pairMaskKey, pairSign, selfMaskKey, seedCommitment, sessionId,
} from './derive.js';
import type {
  AdvertiseKeysMsg, AdvertisedKeys, EncryptedShare, MaskedInputMsg, Outgoing, SecAggConfig, SecAggMessage, SecAggMessageType,
  SecAggResult, SecAggServerApi, SecAggServerOptions, SecAggStage, ShareKeysMsg, ConsistencySignatureMsg, UnmaskResponseMsg,
} from './types.js';

export class SecAggServer implements SecAggServerApi {
  private readonly config: SecAggConfig;
  private readonly graph: NeighbourGraph;
  private readonly tag: Uint8Array;
  private _stage: SecAggStage = 'AdvertiseKeys';
  private sid: Uint8Array | undefined;
  private abortError: FedveilError | undefined;
  private output: SecAggResult | undefined;
  /** Every frame rejected by validation (I3), in arrival order. */
  readonly rejected: InvalidMessage[] = [];
  /** Clients treated as dropped because they sent an invalid frame. */
  private readonly excluded = new Set<number>();
  /** Clients whose input is already summed but who then sent an invalid frame: ignored from then on. */
  private readonly silenced = new Set<number>();

  private readonly advertised = new Map<number, AdvertisedKeys>();
  private u1: number[] = [];
  private u1Set = new Set<number>();
  private readonly shareBundles = new Map<number, EncryptedShare[]>();
  private u2: number[] = [];
  private u2Set = new Set<number>();
  private sum: Uint32Array | undefined;
  /** One unpacking buffer reused for every masked input. */
  private scratch: Uint32Array | undefined;
  private readonly masked = new Set<number>();
  private u3: number[] = [];
  /** U3 as its canonical bitmap (survivors.ts): what clients sign. */
  private u3Bitmap: Uint8Array | undefined;
  private readonly consistencySigs = new Map<number, Uint8Array>();
  private recipients = new Set<number>();
  private readonly responses = new Map<number, UnmaskResponseMsg>();

  constructor(opts: SecAggServerOptions) {
    this.config = opts.config;
    this.graph = neighbourGraph(this.config);
    this.tag = roundTag(this.config);
  }

  get stage(): SecAggStage {
    return this._stage;
  }

  /** The session id once keys are broadcast (I5). */
  get sessionId(): Uint8Array | undefined {
    return this.sid;
  }

  /** Client sets of the round so far (for stats and tests). */
  get sets(): { u1: number[]; u2: number[]; u3: number[]; u4: number[]; responders: number[] } {
    return {
      u1: this.u1.slice(), u2: this.u2.slice(), u3: this.u3.slice(),
      u4: [...this.consistencySigs.keys()].sort((a, b) => a - b),
      responders: [...this.responses.keys()].sort((a, b) => a - b),
    };
  }

  result(): SecAggResult {
    if (this.abortError) throw this.abortError;
    if (!this.output) throw new ProtocolAborted(`no result yet: the round is at ${this._stage}`, { code: 'NOT_FINISHED' });
    return this.output;
  }

  async handle(from: number, frame: Uint8Array): Promise<Outgoing[]> {
    return this.handleSync(from, frame);
  }

  async deadline(): Promise<Outgoing[]> {
    if (this._stage === 'Done' || this._stage === 'Aborted') return [];
    return this.guard(() => this.advance());
  }

  /** Synchronous core of `handle` (the in-memory runner uses it directly). */
  handleSync(from: number, frame: Uint8Array): Outgoing[] {
    if (this._stage === 'Done' || this._stage === 'Aborted') return [];
    if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 1 || from > this.config.n) {
      this.rejected.push(new InvalidMessage(`sender id outside the roster 1..${this.config.n}`, String(from)));
      return [];
    }
    if (this.excluded.has(from) || this.silenced.has(from)) return [];
    let msg: SecAggMessage;
    try {
      msg = decodeMessage(frame, {
        config: this.config, sender: from, expect: this.expected(), round: this.tag, ...(this.sid ? { sid: this.sid } : {}),
      });
      this.accept(from, msg);
    } catch (err) {
      if (err instanceof FedveilError) {
        // I3: whatever went wrong with this frame is the sender's fault, named as such.
        this.reject(from, err instanceof InvalidMessage ? err : new InvalidMessage(err.message, from, { cause: err }));
        return this.guard(() => (this.stageComplete() ? this.advance() : []));
      }
      throw err;
    }
    return this.guard(() => (this.stageComplete() ? this.advance() : []));
  }

  private expected(): SecAggMessageType[] {
    switch (this._stage) {
      case 'AdvertiseKeys': return ['AdvertiseKeys'];
      case 'ShareKeys': return ['ShareKeys'];
      case 'MaskedInputCollection': return ['MaskedInput'];
      case 'ConsistencyCheck': return ['ConsistencySignature'];
      case 'Unmasking': return ['UnmaskResponse'];
      default: return [];
    }
  }

  /** I3: the sender of an invalid frame is dropped (unless its input is already summed). */
  private reject(from: number, err: InvalidMessage): void {
    this.rejected.push(err);
    if (this.masked.has(from)) {
      this.silenced.add(from);
      return;
    }
    this.excluded.add(from);
    // Before the stage closes, forget what it sent in this stage; keys of
    // later-dropped clients are still needed to remove their masks.
    if (this._stage === 'AdvertiseKeys') this.advertised.delete(from);
    if (this._stage === 'ShareKeys') this.shareBundles.delete(from);
  }

  private guard(fn: () => Outgoing[]): Outgoing[] {
    try {
      return fn();
    } catch (err) {
      if (err instanceof FedveilError) return this.abort(err);
      throw err;
    }
  }

  private abort(err: FedveilError): Outgoing[] {
    this.abortError = err;
    this._stage = 'Aborted';
    this.sum = undefined;
    const frame = encodeMessage({ type: 'Abort', v: this.config.version, round: this.tag, reason: `${err.code}: ${err.message}`.slice(0, 1000) });
    const to = this.u1.length > 0 ? this.u1 : [...this.advertised.keys()];
    return to.map((id) => ({ to: id, frame }));
  }

  private send(to: number, msg: SecAggMessage): Outgoing {
    return { to, frame: encodeMessage(msg) };
  }

  private accept(from: number, msg: SecAggMessage): void {
    switch (msg.type) {
      case 'AdvertiseKeys': return this.onAdvertise(from, msg);
      case 'ShareKeys': return this.onShareKeys(from, msg);
      case 'MaskedInput': return this.onMasked(from, msg);
      case 'ConsistencySignature': return this.onSignature(from, msg);
      case 'UnmaskResponse': return this.onUnmask(from, msg);
      default: throw new InvalidMessage(`unexpected ${msg.type}`, from);
    }
  }

  private onAdvertise(from: number, msg: AdvertiseKeysMsg): void {
    if (this.advertised.has(from)) throw new InvalidMessage('duplicate AdvertiseKeys', from);
    try {
      // I3: curve points are validated; a low-order key excludes its sender.
      x25519ValidatePublicKey(msg.cPk);
      x25519ValidatePublicKey(msg.sPk);
    } catch (cause) {
      throw new InvalidMessage('invalid X25519 public key', from, { cause });
    }
    if (this.config.mode === 'active') {
      const vk = this.config.verifyKeys![from - 1]!;
      if (!ed25519Verify(vk, advertiseStatement(this.tag, from, msg.cPk, msg.sPk, msg.seedCommit), msg.sig)) {
        throw new InvalidMessage('advertisement signature does not verify', from);
      }
    }
    this.advertised.set(from, { id: from, cPk: msg.cPk, sPk: msg.sPk, seedCommit: msg.seedCommit, sig: msg.sig });
  }

  private onShareKeys(from: number, msg: ShareKeysMsg): void {
    if (!this.u1Set.has(from)) throw new InvalidMessage('ShareKeys from a client outside U1', from);
    if (this.shareBundles.has(from)) throw new InvalidMessage('duplicate ShareKeys', from);
    const expectedPeers = this.graph.holders(from).filter((v) => v !== from && this.u1Set.has(v));
    if (msg.shares.length !== expectedPeers.length || msg.shares.some((s, i) => s.peer !== expectedPeers[i])) {
      throw new InvalidMessage(`ShareKeys must hold exactly one bundle per neighbour in U1 (${expectedPeers.length})`, from);
    }
    this.shareBundles.set(from, msg.shares);
  }

  private onMasked(from: number, msg: MaskedInputMsg): void {
    if (!this.u2Set.has(from)) throw new InvalidMessage('MaskedInput from a client outside U2', from);
    if (this.masked.has(from)) throw new InvalidMessage('duplicate MaskedInput', from);
    const { bits, dim } = this.config;
    let y: Uint32Array;
    try {
      y = unpackBits(msg.y, bits, dim, this.scratch);
    } catch (cause) {
      throw new InvalidMessage('masked input is not a canonical packing of the vector', from, { cause });
    }
    addModInto(this.sum!, y, bits);
    this.masked.add(from);
  }

  private onSignature(from: number, msg: ConsistencySignatureMsg): void {
    if (!this.u3.includes(from)) throw new InvalidMessage('ConsistencySignature from a client outside U3', from);
    if (this.consistencySigs.has(from)) throw new InvalidMessage('duplicate ConsistencySignature', from);
    if (!ed25519Verify(this.config.verifyKeys![from - 1]!, consistencyStatement(this.sid!, this.u3Bitmap!), msg.sig)) {
      throw new InvalidMessage('consistency signature does not verify', from);
    }
    this.consistencySigs.set(from, msg.sig);
  }

  private onUnmask(from: number, msg: UnmaskResponseMsg): void {
    if (!this.recipients.has(from)) throw new InvalidMessage('UnmaskResponse from a client that was not asked', from);
    if (this.responses.has(from)) throw new InvalidMessage('duplicate UnmaskResponse', from);
    const holdersOf = this.graph.holders(from);
    const u3 = new Set(this.u3);
    const wantSeed = holdersOf.filter((v) => u3.has(v));
    const wantKey = holdersOf.filter((v) => this.u2Set.has(v) && !u3.has(v));
    const same = (got: { of: number }[], want: number[]) => got.length === want.length && got.every((s, i) => s.of === want[i]);
    if (!same(msg.seedShares, wantSeed) || !same(msg.keyShares, wantKey)) {
      throw new InvalidMessage('UnmaskResponse does not hold exactly the requested shares', from);
    }
    for (const s of [...msg.seedShares, ...msg.keyShares]) {
      if (!isFieldElement(s.y)) throw new InvalidMessage(`share of ${s.of} is not a field element`, from);
    }
    this.responses.set(from, msg);
  }

  private stageComplete(): boolean {
    switch (this._stage) {
      case 'AdvertiseKeys': return this.advertised.size + this.excluded.size >= this.config.n;
      case 'ShareKeys': return this.u1.every((u) => this.shareBundles.has(u) || this.excluded.has(u));
      case 'MaskedInputCollection': return this.u2.every((u) => this.masked.has(u) || this.excluded.has(u));
      case 'ConsistencyCheck': return this.u3.every((u) => this.consistencySigs.has(u) || this.silenced.has(u));
      case 'Unmasking': return [...this.recipients].every((u) => this.responses.has(u) || this.silenced.has(u));
      default: return false;
    }
  }

  private need(count: number, stage: string): void {
    if (count < this.config.threshold) throw new ThresholdNotMet(count, this.config.threshold, stage);
  }

  private advance(): Outgoing[] {
    const v = this.config.version;
    switch (this._stage) {
      case 'AdvertiseKeys': {
        this.u1 = [...this.advertised.keys()].sort((a, b) => a - b);
        this.need(this.u1.length, 'AdvertiseKeys');
        this.u1Set = new Set(this.u1);
        this.sid = sessionId(this.tag); // I5
        this._stage = 'ShareKeys';
        if (this.config.graph === 'full') {
          const frame = encodeMessage({ type: 'KeysBroadcast', v, round: this.tag, keys: this.u1.map((id) => this.advertised.get(id)!) });
          return this.u1.map((to) => ({ to, frame }));
        }
        // SecAgg+: each client receives only its share holders' keys (O(k) bytes, not O(n)).
        return this.u1.map((to) => this.send(to, {
          type: 'KeysBroadcast', v, round: this.tag,
          keys: this.graph.holders(to).filter((id) => this.u1Set.has(id)).map((id) => this.advertised.get(id)!),
        }));
      }
      case 'ShareKeys': {
        this.u2 = [...this.shareBundles.keys()].sort((a, b) => a - b);
        this.need(this.u2.length, 'ShareKeys');
        this.u2Set = new Set(this.u2);
        const inbox = new Map<number, EncryptedShare[]>(this.u2.map((u) => [u, []]));
        for (const from of this.u2) {
          for (const { peer, sealed } of this.shareBundles.get(from)!) inbox.get(peer)?.push({ peer: from, sealed });
        }
        this.shareBundles.clear();
        this.sum = new Uint32Array(this.config.dim);
        this.scratch = new Uint32Array(this.config.dim);
        this._stage = 'MaskedInputCollection';
        return this.u2.map((to) => this.send(to, { type: 'SharesRelay', v, sid: this.sid!, shares: inbox.get(to)! }));
      }
      case 'MaskedInputCollection': {
        this.u3 = [...this.masked].sort((a, b) => a - b);
        this.need(this.u3.length, 'MaskedInputCollection');
        // I6: nothing is unmasked with fewer inputs than the noise is calibrated for.
        if (this.u3.length < this.config.minSurvivors) throw new ThresholdNotMet(this.u3.length, this.config.minSurvivors, 'MaskedInputCollection (minimum survivors)');
        this.u3Bitmap = encodeSurvivors(this.u3, this.config.n);
        if (this.config.mode === 'active') {
          this._stage = 'ConsistencyCheck';
          const frame = encodeMessage({ type: 'ConsistencyRequest', v, sid: this.sid!, survivors: this.u3Bitmap });
          return this.u3.map((to) => ({ to, frame }));
        }
        return this.requestUnmask(this.u3);
      }
      case 'ConsistencyCheck': {
        const u4 = [...this.consistencySigs.keys()].sort((a, b) => a - b);
        this.need(u4.length, 'ConsistencyCheck');
        return this.requestUnmask(u4);
      }
      case 'Unmasking':
        this.finish();
        return [];
      default:
        return [];
    }
  }

  /**
   * Ask `to` to unmask. In active mode each recipient gets the signatures of
   * its own share holders only: those are the ones it can check and needs
   * (at least t of them), and its download stays O(k).
   */
  private requestUnmask(to: number[]): Outgoing[] {
    this.recipients = new Set(to);
    this._stage = 'Unmasking';
    const survivors = this.u3Bitmap!;
    const v = this.config.version;
    if (this.config.mode !== 'active') {
      const frame = encodeMessage({ type: 'UnmaskRequest', v, sid: this.sid!, survivors, sigs: [] });
      return to.map((id) => ({ to: id, frame }));
    }
    return to.map((id) => this.send(id, {
      type: 'UnmaskRequest', v, sid: this.sid!, survivors,
      sigs: this.graph.holders(id).filter((h) => this.consistencySigs.has(h)).map((h) => ({ id: h, sig: this.consistencySigs.get(h)! })),
    }));
  }

  /** Collect >= t shares of `owner`'s secret from the responders, lowest ids first. */
  private sharesOf(owner: number, kind: 'seed' | 'key'): ShamirShare[] {
    const out: ShamirShare[] = [];
    for (const holder of this.graph.holders(owner)) {
      const resp = this.responses.get(holder);
      if (!resp) continue;
      const s = (kind === 'seed' ? resp.seedShares : resp.keyShares).find((x) => x.of === owner);
      if (s) out.push({ x: holder, y: s.y });
      if (out.length === this.config.threshold) return out;
    }
    throw new ThresholdNotMet(out.length, this.config.threshold, `Unmasking (${kind} shares of client ${owner})`);
  }

  private finish(): void {
    const { bits } = this.config;
    const sum = this.sum!;
    const sid = this.sid!;
    const u3 = new Set(this.u3);
    // Every mask to remove, collected first and then removed in one blocked
    // pass over the sum (unmask.ts): same bytes as one prgAddInto per key.
    const maskKeys: Uint8Array[] = [];
    const signs: number[] = [];
    // Survivors: remove self masks (one PRG expansion each).
    for (const v of this.u3) {
      const seed = shamirCombine(this.sharesOf(v, 'seed'), this.config.threshold);
      if (!bytesEqual(seedCommitment(seed, this.tag, v), this.advertised.get(v)?.seedCommit ?? new Uint8Array(0))) {
        throw new ProtocolAborted(`reconstructed self-mask seed of ${v} does not match its commitment (a holder sent a wrong share)`, { code: 'SHARE_MISMATCH' });
      }
      maskKeys.push(selfMaskKey(seed, sid, v));
      signs.push(-1);
    }
    // Dropped after sharing: remove their pairwise masks with surviving neighbours (k expansions each).
    for (const v of this.u2) {
      if (u3.has(v)) continue;
      const sk = shamirCombine(this.sharesOf(v, 'key'), this.config.threshold);
      const keys = this.advertised.get(v);
      if (!keys || !bytesEqual(x25519PublicKey(sk), keys.sPk)) {
        throw new ProtocolAborted(`reconstructed mask key of ${v} does not match its public key (a holder sent a wrong share)`, { code: 'SHARE_MISMATCH' });
      }
      for (const u of this.graph.neighbours(v)) {
        if (!u3.has(u)) continue;
        const shared = x25519Agree(sk, this.advertised.get(u)!.sPk);
        maskKeys.push(pairMaskKey(shared, sid, u, v));
        signs.push(pairSign(u, v) === 1 ? -1 : 1);
      }
    }
    removeMasks(maskKeys, signs, sum, bits);
    this.output = Object.freeze({ sum, survivors: this.u3.slice() });
    this.sum = undefined;
    this.scratch = undefined;
    this._stage = 'Done';
  }
}

