/**
 * Public types of the secure-aggregation layer (Bonawitz et al. CCS'17
 * "Practical Secure Aggregation for Privacy-Preserving Machine Learning";
 * SecAgg+ of Bell et al. CCS'20 "Secure Single-Server Aggregation with
 * (Poly)Logarithmic Overhead").
 *
 * The protocol core is a pair of pure state machines: a client and a server
 * exchange opaque msgpackr frames (`Uint8Array`); a transport only moves
 * `Outgoing` frames to their destination. Clients never talk to each other
 * directly: the server relays the (AEAD-encrypted) shares of ShareKeys.
 *
 * Client ids are 1-based (1..n) and double as Shamir evaluation points.
 * All vectors are `Uint32Array`s whose entries live in [0, 2^bits).
 */
import type { RandomSource } from '../crypto/random.js';

/** Server trust model. `active` adds Ed25519 signatures and the ConsistencyCheck round (Bonawitz §4). */
export type SecAggMode = 'semi-honest' | 'active';

/** Neighbour graph: `full` is classic SecAgg (k = n-1), `harary` is SecAgg+ (degree k, random relabelling). */
export type SecAggGraph = 'full' | 'harary';

/** Adversary class of the SecAgg+ parameter finder (Bell et al. 2020). */
export type SecAggAdversary = 'semi-honest' | 'semi-malicious';

/** Protocol stages, in order. */
export type SecAggStage =
  | 'AdvertiseKeys'
  | 'ShareKeys'
  | 'MaskedInputCollection'
  | 'ConsistencyCheck'
  | 'Unmasking'
  | 'Done'
  | 'Aborted';

/** Size caps enforced on every decode (I3). */
export interface SecAggLimits {
  /** Largest frame accepted, in bytes (before decoding). */
  readonly maxFrameBytes: number;
}

/** A validated, frozen round configuration (build it with `makeConfig`). */
export interface SecAggConfig {
  /** Wire protocol version (currently 1). */
  readonly version: number;
  /** Roster size; client ids are 1..n. */
  readonly n: number;
  /** Shamir threshold t: shares needed to reconstruct; minimum number of survivors. */
  readonly threshold: number;
  /**
   * Fewest masked inputs the sum may hold (t <= minSurvivors <= n; default
   * t): the server aborts below it, and every client refuses to unmask a
   * survivor set below it. On the full graph the only decodable sum is the
   * whole survivor set, so distributed-DP noise can be calibrated to
   * minSurvivors - g; on a SecAgg+ graph only t - g is guaranteed (I6).
   */
  readonly minSurvivors: number;
  /** Modulus bits b (1..32): arithmetic is mod 2^b. */
  readonly bits: number;
  /** Vector length d. */
  readonly dim: number;
  readonly graph: SecAggGraph;
  /** Number of neighbours k of every client (n-1 for the full graph; even for harary). */
  readonly degree: number;
  readonly mode: SecAggMode;
  /** Public 32-byte round seed agreed before the round (graph relabelling, round binding). */
  readonly seed: Uint8Array;
  /** Round number (bound into every message together with the seed). */
  readonly round: number;
  readonly limits: SecAggLimits;
  /** Stage timeout (ms) used by transports to call `server.deadline()`. */
  readonly stageTimeoutMs: number;
  /**
   * Active mode: Ed25519 public keys of the roster, index id-1 (a PKI;
   * Bonawitz §4). The server knows all of them; a client may know only its
   * own and its neighbours' (entries of others are undefined), which is
   * allowed only when `commitment.rosterRoot` commits to the whole roster.
   */
  readonly verifyKeys?: readonly (Uint8Array | undefined)[];
  /** What the round tag binds besides the parameters (I5); all-zero fields when unused. */
  readonly commitment: RoundCommitment;
}

/**
 * The round commitment (I5): 32-byte digests bound into the round tag, hence
 * into the session id and every signed statement. A passed ConsistencyCheck
 * then proves that every signer saw the same roster, plan, model, round and
 * coordinator session. The secagg layer treats them as opaque bytes; the
 * client runtime computes them itself from what it verified.
 */
export interface RoundCommitment {
  /** Merkle root (RFC 6962) over the roster's certified entries. */
  readonly rosterRoot: Uint8Array;
  /** Hash of the canonical encoding of the round's DP plan. */
  readonly planHash: Uint8Array;
  /** Hash of the global model the clients received. */
  readonly modelHash: Uint8Array;
  /** The coordinator's session (fresh per coordinator start). */
  readonly coordinatorSession: Uint8Array;
}

/** Inputs to `makeConfig` (everything except n, threshold, dim has a default). */
export interface SecAggConfigInput {
  n: number;
  threshold: number;
  minSurvivors?: number;
  dim: number;
  bits?: number;
  graph?: SecAggGraph;
  degree?: number;
  mode?: SecAggMode;
  seed?: Uint8Array;
  round?: number;
  limits?: Partial<SecAggLimits>;
  stageTimeoutMs?: number;
  verifyKeys?: readonly (Uint8Array | undefined)[];
  commitment?: Partial<RoundCommitment>;
}

/** A frame to deliver: to client id `to`, or to the server. */
export interface Outgoing {
  readonly to: number | 'server';
  readonly frame: Uint8Array;
}

/** Constructor options of `SecAggClient`. */
export interface SecAggClientOptions {
  /** This client's id, 1..n. */
  id: number;
  config: SecAggConfig;
  /** The client's input vector, length `config.dim`, entries < 2^bits. */
  input: Uint32Array;
  /** Randomness for keys, seeds and Shamir coefficients (default: system CSPRNG, I7). */
  rng?: RandomSource;
  /** Active mode: this client's Ed25519 secret key (its public key is `config.verifyKeys[id-1]`). */
  signingKey?: Uint8Array;
}

/** Constructor options of `SecAggServer`. */
export interface SecAggServerOptions {
  config: SecAggConfig;
}

/** What a client state machine exposes (implemented by `SecAggClient`). */
export interface SecAggClientApi {
  readonly id: number;
  readonly stage: SecAggStage;
  /** First message (AdvertiseKeys). */
  start(): Outgoing[];
  /**
   * Consume one frame from the server. Throws a typed error (InvalidMessage,
   * ProtocolAborted, ...) and moves to `Aborted` when the frame is invalid or
   * the server asks for something the invariants forbid.
   */
  handle(frame: Uint8Array): Promise<Outgoing[]>;
}

/** The server's result: the sum mod 2^b of the survivors' inputs. */
export interface SecAggResult {
  readonly sum: Uint32Array;
  /** Ids whose masked input is in the sum (U3), ascending. */
  readonly survivors: number[];
}

/** What a server state machine exposes (implemented by `SecAggServer`). */
export interface SecAggServerApi {
  readonly stage: SecAggStage;
  /**
   * Consume one frame from client `from`. Never throws on a bad frame: the
   * sender is recorded in `rejected` (InvalidMessage naming it, I3) and
   * treated as dropped.
   */
  handle(from: number, frame: Uint8Array): Promise<Outgoing[]>;
  /** The stage deadline passed: missing clients are dropouts; advance (or abort). */
  deadline(): Promise<Outgoing[]>;
  /** The result once `stage === 'Done'`; throws the typed abort if `Aborted`. */
  result(): SecAggResult;
}

/** Who drops before which stage (in-memory runner). Ids are 1-based. */
export interface DropoutSchedule {
  /** Never send AdvertiseKeys. */
  beforeAdvertise?: number[];
  /** Advertise, then never send ShareKeys. */
  beforeShareKeys?: number[];
  /** Send shares, then never send the masked input. */
  beforeMaskedInput?: number[];
  /** Send the masked input, then never sign the consistency check (active mode). */
  beforeConsistency?: number[];
  /** Never answer the unmasking request. */
  beforeUnmasking?: number[];
}

/** Per-round measurements of the in-memory runner. */
export interface SecAggStats {
  /** Bytes each client sent (index id-1). */
  bytesUp: number[];
  /** Bytes each client received (index id-1). */
  bytesDown: number[];
  /** Wall time spent inside each client's state machine, ms (index id-1). */
  clientMs: number[];
  /** Wall time spent inside the server's state machine, ms. */
  serverMs: number;
  /** Ids that sent AdvertiseKeys, ShareKeys, masked inputs, unmasking answers. */
  stageCounts: { advertised: number; shared: number; masked: number; unmasked: number };
}

/** Message type tags on the wire. */
export type SecAggMessageType =
  | 'AdvertiseKeys'
  | 'KeysBroadcast'
  | 'ShareKeys'
  | 'SharesRelay'
  | 'MaskedInput'
  | 'ConsistencyRequest'
  | 'ConsistencySignature'
  | 'UnmaskRequest'
  | 'UnmaskResponse'
  | 'Abort';

/** Client -> server, stage 0: the two X25519 public keys (signed in active mode). */
export interface AdvertiseKeysMsg {
  type: 'AdvertiseKeys';
  v: number;
  /** Round tag (32 bytes): hash of the public config, seed and round number. */
  round: Uint8Array;
  from: number;
  /** Public key of the share-encryption key pair (c). */
  cPk: Uint8Array;
  /** Public key of the mask key pair (s). */
  sPk: Uint8Array;
  /**
   * Commitment to the self-mask seed b (HKDF of b bound to round and id):
   * lets the server detect wrong seed shares instead of returning a wrong sum.
   */
  seedCommit: Uint8Array;
  /** Active mode: Ed25519 signature over (round, from, cPk, sPk, seedCommit); else empty. */
  sig: Uint8Array;
}

/** One advertised key entry as relayed by the server. */
export interface AdvertisedKeys {
  id: number;
  cPk: Uint8Array;
  sPk: Uint8Array;
  seedCommit: Uint8Array;
  sig: Uint8Array;
}

/**
 * Server -> client: the accepted advertisements (U1) of the recipient's share
 * holders (itself and its neighbours; everyone on the full graph), ascending
 * id. SecAgg+ clients never receive keys of non-neighbours, so a client's
 * download grows with k, not n.
 */
export interface KeysBroadcastMsg {
  type: 'KeysBroadcast';
  v: number;
  round: Uint8Array;
  keys: AdvertisedKeys[];
}

/** An encrypted share bundle between two clients (relayed by the server). */
export interface EncryptedShare {
  /** Recipient in ShareKeys, sender in SharesRelay. */
  peer: number;
  /** aeadSeal output: nonce || ciphertext || tag. */
  sealed: Uint8Array;
}

/** Client -> server, stage 1: one encrypted share bundle per holder (peer = recipient). */
export interface ShareKeysMsg {
  type: 'ShareKeys';
  v: number;
  sid: Uint8Array;
  from: number;
  shares: EncryptedShare[];
}

/** Server -> client: the bundles addressed to it (peer = sender); senders form U2 ∩ neighbours. */
export interface SharesRelayMsg {
  type: 'SharesRelay';
  v: number;
  sid: Uint8Array;
  shares: EncryptedShare[];
}

/** Client -> server, stage 2: masked input, bit-packed to `bits` bits. */
export interface MaskedInputMsg {
  type: 'MaskedInput';
  v: number;
  sid: Uint8Array;
  from: number;
  /** packBits(y, bits): ceil(dim * bits / 8) bytes. */
  y: Uint8Array;
}

/**
 * Server -> client (active mode): the set U3 of clients whose masked input was
 * received, as a bitmap over the roster (bit id-1 of byte floor((id-1)/8),
 * least significant bit first; ceil(n/8) bytes, padding bits zero).
 */
export interface ConsistencyRequestMsg {
  type: 'ConsistencyRequest';
  v: number;
  sid: Uint8Array;
  survivors: Uint8Array;
}

/** Client -> server (active mode): signature over (sid, U3 bitmap). */
export interface ConsistencySignatureMsg {
  type: 'ConsistencySignature';
  v: number;
  sid: Uint8Array;
  from: number;
  sig: Uint8Array;
}

/** One Ed25519 signature relayed in the unmask request (active mode). */
export interface SurvivorSignature {
  id: number;
  sig: Uint8Array;
}

/**
 * Server -> client, stage 3: the survivor set U3 as a bitmap (as in
 * ConsistencyRequest). For each owner whose shares it holds, the client
 * reveals the self-mask-seed share (owner survived: bit set) or the
 * mask-key share (owner dropped after sharing: bit clear), never both (I1):
 * the bitmap gives every owner exactly one status, and a client answers one
 * request per round.
 */
export interface UnmaskRequestMsg {
  type: 'UnmaskRequest';
  v: number;
  sid: Uint8Array;
  survivors: Uint8Array;
  /** Active mode: the consistency signatures of the recipient's share holders on (sid, survivors). */
  sigs: SurvivorSignature[];
}

/** A revealed Shamir share of `of`'s secret held by the sender. */
export interface RevealedShare {
  of: number;
  y: Uint8Array;
}

/** Client -> server, stage 3: revealed shares. */
export interface UnmaskResponseMsg {
  type: 'UnmaskResponse';
  v: number;
  sid: Uint8Array;
  from: number;
  /** Shares of survivors' self-mask seeds b_v. */
  seedShares: RevealedShare[];
  /** Shares of dropped clients' mask secret keys s_sk_v. */
  keyShares: RevealedShare[];
}

/** Server -> client: the round is over without a result. */
export interface AbortMsg {
  type: 'Abort';
  v: number;
  round: Uint8Array;
  reason: string;
}

export type SecAggMessage =
  | AdvertiseKeysMsg
  | KeysBroadcastMsg
  | ShareKeysMsg
  | SharesRelayMsg
  | MaskedInputMsg
  | ConsistencyRequestMsg
  | ConsistencySignatureMsg
  | UnmaskRequestMsg
  | UnmaskResponseMsg
  | AbortMsg;
