/**
 * SecAgg client state machine (Bonawitz et al. CCS'17, Fig. 4 and §4 for
 * the active variant; neighbourhoods of SecAgg+, Bell et al. CCS'20).
 *
 *   start()                 -> AdvertiseKeys (c and s X25519 public keys,
 *                              commitment to the self-mask seed b)
 *   KeysBroadcast           -> ShareKeys (t-of-holders Shamir shares of b
 *                              and s_sk, AEAD-encrypted to each holder)
 *   SharesRelay             -> MaskedInput y = x + PRG(b) + sum sign*PRG(s_uv)
 *   ConsistencyRequest      -> ConsistencySignature (active mode)
 *   UnmaskRequest           -> UnmaskResponse (one share per peer, never both)
 *   Abort                   -> Aborted
 *
 * Pure: frames in, frames out, no I/O. Any invalid frame or forbidden
 * request throws a typed error and moves the client to `Aborted`, after
 * which it refuses everything (it never reveals anything after an abort).
 * Assumptions: the server relays frames; the client trusts nobody's keys
 * except, in active mode, the Ed25519 PKI in the config.
 */
import { FedveilError, InvalidArgument, InvalidMessage, ProtocolAborted, ThresholdNotMet } from '../errors.js';
import { bytesEqual } from '../util/bytes.js';
import { aint, auint32s } from '../util/assert.js';
import { randomBytes, systemRandom, type RandomSource } from '../crypto/random.js';
import {
  aeadOpen, aeadSeal, ed25519PublicKey, ed25519Sign, ed25519Verify, packBits, shamirSplit, x25519Agree, x25519KeyPair,
  x25519ValidatePublicKey, isFieldElement, SHAMIR_SHARE_BYTES,
} from './primitives.js';
import { prgAddIntoAsync, prgAddManyInto, prgBackend, type PrgBackend } from '../crypto/prg.js';
import { roundTag } from './config.js';
import { neighbourGraph, type NeighbourGraph } from './graph.js';
import { decodeMessage, encodeMessage, SHARE_PLAINTEXT_BYTES } from './messages.js';
import {
  advertiseStatement, consistencyStatement, pairMaskKey, pairSign, selfMaskKey, seedCommitment, sessionId, shareAad, shareKey,
} from './derive.js';
import { OMIT_PAIRWISE_MASK } from './bench-hooks.js';
import { hasSurvivor, survivorCount } from './survivors.js';
import type {
  AdvertisedKeys, KeysBroadcastMsg, Outgoing, SecAggClientApi, SecAggClientOptions, SecAggConfig, SecAggMessage,
  SecAggMessageType, SecAggStage, SharesRelayMsg, UnmaskRequestMsg, ConsistencyRequestMsg, RevealedShare,
} from './types.js';

interface PeerShares {
  seedShare: Uint8Array;
  keyShare: Uint8Array;
}

/** Mask vectors added by SecAgg clients in this JS realm, per PRG backend (see {@link clientMaskStats}). */
const maskAdds: Record<PrgBackend, number> = { node: 0, webcrypto: 0, noble: 0 };

/**
 * The PRG backend a client masks with by default: 'node' (node:crypto's
 * synchronous AES-CTR) when node:crypto is present, else 'webcrypto'
 * (`crypto.subtle`, async; browsers), else 'noble'. Same bytes either way.
 */
export function clientMaskBackend(): PrgBackend {
  return prgBackend();
}

/**
 * How many mask vectors (self mask + one per pairwise mask) the SecAgg
 * clients of this JS realm have added, per backend: evidence of which
 * backend actually ran (the browser test asserts 'webcrypto').
 */
export function clientMaskStats(): Readonly<Record<PrgBackend, number>> {
  return { ...maskAdds };
}

export class SecAggClient implements SecAggClientApi {
  readonly id: number;
  private readonly config: SecAggConfig;
  private readonly graph: NeighbourGraph;
  private readonly rng: RandomSource;
  private readonly tag: Uint8Array;
  private readonly signingKey: Uint8Array | undefined;
  private input: Uint32Array | undefined;
  private _stage: SecAggStage = 'AdvertiseKeys';
  private started = false;
  private abortError: FedveilError | undefined;

  private readonly cKeys: { secretKey: Uint8Array; publicKey: Uint8Array };
  private readonly sKeys: { secretKey: Uint8Array; publicKey: Uint8Array };
  private readonly selfMaskSeed: Uint8Array;
  private readonly seedCommit: Uint8Array;

  private sid: Uint8Array | undefined;
  private peers = new Map<number, AdvertisedKeys>();
  /** This client and its neighbours: the only owners whose shares it holds (k + 1 of them). */
  private readonly holderSet: Set<number>;
  /** AEAD keys of the share bundles, per neighbour (one c-agreement each). */
  private shareKeys = new Map<number, Uint8Array>();
  /** Shares this client holds, by owner (including its own). */
  private held = new Map<number, PeerShares>();
  /** Survivor bitmap this client signed (active mode). */
  private signedSurvivors: Uint8Array | undefined;
  /** Benchmark-only (see bench-hooks.ts); never set in a deployment. */
  [OMIT_PAIRWISE_MASK]?: (peer: number) => boolean;
  /**
   * Mask PRG backend override (tests: force 'webcrypto' on Node). Default
   * `clientMaskBackend()` ('node' where node:crypto exists, else 'webcrypto', else 'noble'). Every backend gives the same masked input.
   */
  prgBackend: PrgBackend | undefined = undefined;

  constructor(opts: SecAggClientOptions) {
    const { config } = opts;
    aint('id', opts.id, 1, config.n);
    auint32s('input', opts.input, config.dim);
    const limit = config.bits === 32 ? 2 ** 32 : 2 ** config.bits;
    for (let i = 0; i < opts.input.length; i++) {
      if (opts.input[i]! >= limit) throw new InvalidArgument(`input[${i}] = ${opts.input[i]} is not below 2^${config.bits}`);
    }
    if (config.mode === 'active') {
      if (!(opts.signingKey instanceof Uint8Array) || opts.signingKey.length !== 32) {
        throw new InvalidArgument('signingKey: active mode needs this client\'s 32-byte Ed25519 secret key');
      }
      // Peers check this client's signatures against the roster's key at its id:
      // a roster that lists another key there (or this key elsewhere) is refused by the caller.
      const listed = config.verifyKeys?.[opts.id - 1];
      if (!listed || !bytesEqual(listed, ed25519PublicKey(opts.signingKey))) {
        throw new InvalidMessage(`the roster's verify key for id ${opts.id} is not this client's key`, 'server');
      }
    }
    this.id = opts.id;
    this.config = config;
    this.graph = neighbourGraph(config);
    this.holderSet = new Set(this.graph.holders(opts.id));
    this.rng = opts.rng ?? systemRandom;
    this.tag = roundTag(config);
    this.signingKey = opts.signingKey;
    this.input = opts.input;
    // I7: keys and the self-mask seed come from the CSPRNG (or the caller's RandomSource).
    this.cKeys = x25519KeyPair(this.rng);
    this.sKeys = x25519KeyPair(this.rng);
    this.selfMaskSeed = randomBytes(32, this.rng);
    this.seedCommit = seedCommitment(this.selfMaskSeed, this.tag, this.id);
  }

  get stage(): SecAggStage {
    return this._stage;
  }

  /** The error that aborted this client, if any. */
  get error(): FedveilError | undefined {
    return this.abortError;
  }

  start(): Outgoing[] {
    if (this.started || this._stage !== 'AdvertiseKeys') throw new ProtocolAborted('start() called twice', { code: 'BAD_STATE' });
    this.started = true;
    const sig = this.config.mode === 'active'
      ? ed25519Sign(this.signingKey!, advertiseStatement(this.tag, this.id, this.cKeys.publicKey, this.sKeys.publicKey, this.seedCommit))
      : new Uint8Array(0);
    return [this.toServer({
      type: 'AdvertiseKeys', v: this.config.version, round: this.tag, from: this.id,
      cPk: this.cKeys.publicKey, sPk: this.sKeys.publicKey, seedCommit: this.seedCommit, sig,
    })];
  }

  async handle(frame: Uint8Array): Promise<Outgoing[]> {
    if (this._stage === 'Aborted' || this._stage === 'Done') {
      throw new ProtocolAborted(`client ${this.id} is ${this._stage}; it accepts no more frames`, { code: 'BAD_STATE' });
    }
    try {
      return await this.step(frame);
    } catch (err) {
      this._stage = 'Aborted';
      this.abortError = err instanceof FedveilError ? err : new ProtocolAborted(String(err), { cause: err });
      // Forget the secrets: an aborted client must reveal nothing later.
      this.held.clear();
      this.input = undefined;
      throw this.abortError;
    }
  }

  private expected(): SecAggMessageType[] {
    switch (this._stage) {
      case 'AdvertiseKeys': return ['KeysBroadcast', 'Abort'];
      case 'ShareKeys': return ['SharesRelay', 'Abort'];
      case 'MaskedInputCollection':
        return this.config.mode === 'active' ? ['ConsistencyRequest', 'Abort'] : ['UnmaskRequest', 'Abort'];
      case 'ConsistencyCheck': return ['UnmaskRequest', 'Abort'];
      default: return ['Abort'];
    }
  }

  private async step(frame: Uint8Array): Promise<Outgoing[]> {
    if (!this.started) throw new ProtocolAborted('handle() before start()', { code: 'BAD_STATE' });
    const msg = decodeMessage(frame, {
      config: this.config, sender: 'server', expect: this.expected(), round: this.tag, ...(this.sid ? { sid: this.sid } : {}),
    });
    switch (msg.type) {
      case 'KeysBroadcast': return this.onKeys(msg);
      case 'SharesRelay': return this.onShares(msg);
      case 'ConsistencyRequest': return this.onConsistency(msg);
      case 'UnmaskRequest': return this.onUnmask(msg);
      case 'Abort':
        throw new ProtocolAborted(`server aborted the round: ${msg.reason}`, { code: 'SERVER_ABORTED' });
      default:
        throw new InvalidMessage(`unexpected ${msg.type}`, 'server');
    }
  }

  private toServer(msg: SecAggMessage): Outgoing {
    return { to: 'server', frame: encodeMessage(msg) };
  }

  /** Stage 1: check the advertised keys, compute the session id, share b and s_sk. */
  private onKeys(msg: KeysBroadcastMsg): Outgoing[] {
    const mine = msg.keys.find((k) => k.id === this.id);
    if (!mine || !bytesEqual(mine.cPk, this.cKeys.publicKey) || !bytesEqual(mine.sPk, this.sKeys.publicKey) || !bytesEqual(mine.seedCommit, this.seedCommit)) {
      throw new InvalidMessage('the key broadcast does not contain this client\'s own keys', 'server');
    }
    // I5: the session id commits to the round tag (roster, parameters, plan, model, session).
    this.sid = sessionId(this.tag);
    // Only neighbours' keys are ever used: validate those (O(k), not O(n));
    // entries of non-neighbours are ignored.
    for (const k of msg.keys) {
      if (k.id === this.id || !this.holderSet.has(k.id)) continue;
      // I3: curve points are validated; a peer with an invalid (e.g. low-order)
      // key, or a bad signature in active mode, is excluded like a dropout.
      // Every honest client applies the same rule to the same advertisement,
      // so they agree on the exclusion.
      if (!this.acceptablePeer(k)) continue;
      this.peers.set(k.id, k);
    }
    const holders = this.graph.holders(this.id).filter((v) => v === this.id || this.peers.has(v));
    if (holders.length < this.config.threshold) throw new ThresholdNotMet(holders.length, this.config.threshold, 'ShareKeys (share holders)');
    const seedShares = shamirSplit(this.selfMaskSeed, this.config.threshold, holders, this.rng);
    const keyShares = shamirSplit(this.sKeys.secretKey, this.config.threshold, holders, this.rng);
    const shares = [];
    for (let i = 0; i < holders.length; i++) {
      const v = holders[i]!;
      const seedShare = seedShares[i]!.y;
      const keyShare = keyShares[i]!.y;
      if (v === this.id) {
        this.held.set(v, { seedShare, keyShare });
        continue;
      }
      const plaintext = new Uint8Array(SHARE_PLAINTEXT_BYTES);
      plaintext.set(seedShare, 0);
      plaintext.set(keyShare, SHAMIR_SHARE_BYTES);
      const key = shareKey(x25519Agree(this.cKeys.secretKey, this.peers.get(v)!.cPk), this.sid, this.id, v);
      this.shareKeys.set(v, key);
      shares.push({ peer: v, sealed: aeadSeal(key, plaintext, shareAad(this.sid, this.id, v), this.rng) });
    }
    this._stage = 'ShareKeys';
    return [this.toServer({ type: 'ShareKeys', v: this.config.version, sid: this.sid, from: this.id, shares })];
  }

  private acceptablePeer(k: AdvertisedKeys): boolean {
    try {
      x25519ValidatePublicKey(k.cPk);
      x25519ValidatePublicKey(k.sPk);
    } catch (err) {
      if (err instanceof FedveilError) return false;
      throw err;
    }
    if (this.config.mode === 'active') {
      const vk = this.config.verifyKeys![k.id - 1];
      if (!vk) return false;
      if (!ed25519Verify(vk, advertiseStatement(this.tag, k.id, k.cPk, k.sPk, k.seedCommit), k.sig)) return false;
    }
    return true;
  }

  /** Stage 2: decrypt the neighbours' shares, mask the input. */
  private async onShares(msg: SharesRelayMsg): Promise<Outgoing[]> {
    const sid = this.sid!;
    const senders: number[] = [];
    for (const { peer, sealed } of msg.shares) {
      if (peer === this.id || !this.peers.has(peer) || !this.graph.adjacent(this.id, peer)) {
        throw new InvalidMessage(`relayed a share from ${peer}, who is not an accepted neighbour`, 'server');
      }
      const key = this.shareKeys.get(peer);
      if (!key) throw new InvalidMessage(`relayed a share from ${peer}, who is not one of this client's share holders`, 'server');
      let plaintext: Uint8Array;
      try {
        plaintext = aeadOpen(key, sealed, shareAad(sid, peer, this.id));
      } catch (cause) {
        throw new InvalidMessage('share bundle failed authentication (tampered or misrouted)', peer, { cause });
      }
      if (plaintext.length !== SHARE_PLAINTEXT_BYTES) throw new InvalidMessage('share bundle has the wrong length', peer);
      const seedShare = plaintext.slice(0, SHAMIR_SHARE_BYTES);
      const keyShare = plaintext.slice(SHAMIR_SHARE_BYTES);
      if (!isFieldElement(seedShare) || !isFieldElement(keyShare)) throw new InvalidMessage('share is not a field element', peer);
      this.held.set(peer, { seedShare, keyShare });
      senders.push(peer);
    }
    // Only senders and this client can ever be reconstructed from this neighbourhood.
    if (senders.length + 1 < this.config.threshold) throw new ThresholdNotMet(senders.length + 1, this.config.threshold, 'MaskedInputCollection');

    const { bits } = this.config;
    const y = Uint32Array.from(this.input!);
    const keys = [selfMaskKey(this.selfMaskSeed, sid, this.id)];
    const signs: Array<1 | -1> = [1];
    const omit = this[OMIT_PAIRWISE_MASK];
    for (const v of senders) {
      if (omit?.(v)) continue;
      const shared = x25519Agree(this.sKeys.secretKey, this.peers.get(v)!.sPk);
      keys.push(pairMaskKey(shared, sid, this.id, v));
      signs.push(pairSign(this.id, v));
    }
    const backend = this.prgBackend ?? clientMaskBackend();
    if (backend === 'node') {
      // Node: the synchronous OpenSSL path, no promise per mask; all masks in
      // one cache-blocked pass over y (same bytes as one prgAddInto per key).
      prgAddManyInto(keys, signs, y, bits, 'node');
    } else {
      // Browsers: WebCrypto AES-CTR is async-only (else noble); byte-identical output.
      for (let i = 0; i < keys.length; i++) await prgAddIntoAsync(keys[i]!, y, bits, signs[i]!, backend);
    }
    maskAdds[backend] += keys.length;
    this.input = undefined;
    this._stage = 'MaskedInputCollection';
    return [this.toServer({ type: 'MaskedInput', v: this.config.version, sid, from: this.id, y: packBits(y, bits) })];
  }

  /** Active mode: sign the survivor set (Bonawitz §4 ConsistencyCheck). */
  private onConsistency(msg: ConsistencyRequestMsg): Outgoing[] {
    this.checkSurvivors(msg.survivors);
    this.signedSurvivors = msg.survivors;
    this._stage = 'ConsistencyCheck';
    const sig = ed25519Sign(this.signingKey!, consistencyStatement(this.sid!, msg.survivors));
    return [this.toServer({ type: 'ConsistencySignature', v: this.config.version, sid: this.sid!, from: this.id, sig })];
  }

  private checkSurvivors(survivors: Uint8Array): void {
    // I2: never help unmask a set smaller than t.
    // I6: and never one smaller than the count the DP noise is calibrated for.
    const count = survivorCount(survivors);
    if (count < this.config.minSurvivors) throw new ThresholdNotMet(count, this.config.minSurvivors, 'Unmasking (survivor set)');
    if (!hasSurvivor(survivors, this.id)) throw new InvalidMessage('survivor set omits this client, which sent its masked input', 'server');
    // I2 (neighbourhood): at least t of this client's share holders (itself
    // and its neighbours) must have survived. With SecAgg+ the coordinator
    // can only decode sums over groups of survivors joined by unremoved
    // pairwise masks; this keeps every such group that contains this client
    // at >= t survivors, hence >= t - g honest ones when g collude (I6).
    let local = 0;
    for (const v of this.holderSet) {
      if (!hasSurvivor(survivors, v)) continue;
      if (v !== this.id && !this.peers.has(v)) throw new InvalidMessage(`survivor ${v} is a neighbour whose keys were invalid or never advertised`, 'server');
      local++;
    }
    if (local < this.config.threshold) throw new ThresholdNotMet(local, this.config.threshold, 'Unmasking (surviving share holders)');
  }

  /**
   * Stage 3: reveal the seed share of each surviving owner, the key share of
   * each dropped one. I1: the bitmap gives each owner exactly one status, and
   * the client answers a single request per round (it is Done afterwards and
   * refuses any further frame), so it never reveals both shares of an owner.
   */
  private onUnmask(msg: UnmaskRequestMsg): Outgoing[] {
    const sid = this.sid!;
    const { survivors } = msg;
    this.checkSurvivors(survivors);
    if (this.config.mode === 'active') {
      // I2 (active): the survivor set must be the one this client signed, and
      // at least t of its own share holders must have signed that same set.
      // Honest clients sign once; with 2t > k + 1 + g no two different sets
      // can each collect t signatures among one client's k + 1 holders, so
      // the coordinator cannot obtain both a client's self-mask seed and its
      // mask key by showing holders different sets (split view).
      if (!this.signedSurvivors || !bytesEqual(this.signedSurvivors, survivors)) {
        throw new ProtocolAborted('consistency check failed: survivor set differs from the one this client signed', { code: 'INCONSISTENT_SURVIVORS' });
      }
      const statement = consistencyStatement(sid, survivors);
      let valid = 0;
      let prev = 0;
      for (const { id, sig } of msg.sigs) {
        if (id <= prev) throw new InvalidMessage('consistency signatures must be in ascending id order', 'server');
        prev = id;
        if (!this.holderSet.has(id) || !hasSurvivor(survivors, id)) throw new ProtocolAborted(`consistency signature from ${id}, who is not a surviving share holder of this client`, { code: 'INCONSISTENT_SURVIVORS' });
        const vk = this.config.verifyKeys![id - 1];
        if (!vk || !ed25519Verify(vk, statement, sig)) {
          throw new ProtocolAborted(`consistency signature of ${id} does not verify: survivor sets differ between clients`, { code: 'INCONSISTENT_SURVIVORS' });
        }
        valid++;
      }
      if (valid < this.config.threshold) throw new ThresholdNotMet(valid, this.config.threshold, 'ConsistencyCheck (share holders\' signatures)');
    }
    const seedShares: RevealedShare[] = [];
    const keyShares: RevealedShare[] = [];
    const owners = [...this.held.keys()].sort((a, b) => a - b);
    for (const owner of owners) {
      const held = this.held.get(owner)!;
      // I1: exactly one share per owner, chosen by its single bit.
      if (hasSurvivor(survivors, owner)) seedShares.push({ of: owner, y: held.seedShare });
      else keyShares.push({ of: owner, y: held.keyShare });
    }
    this.held.clear();
    this._stage = 'Done';
    return [this.toServer({ type: 'UnmaskResponse', v: this.config.version, sid, from: this.id, seedShares, keyShares })];
  }
}

