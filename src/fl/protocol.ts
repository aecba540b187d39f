/**
 * The seam between the transport and the secure-aggregation core: how a
 * coordinator creates a SecAgg server state machine for a round, and how a
 * participant creates its client state machine from the public round
 * configuration it received. The default binds src/secagg; tests and other
 * protocols may pass their own.
 */
import type { Outgoing, RoundCommitment, SecAggConfig, SecAggResult, SecAggStage } from '../secagg/types.js';

/** Server state machine as the coordinator drives it (src/secagg SecAggServer). */
export interface RoundServer {
  readonly stage: SecAggStage;
  handle(from: number, frame: Uint8Array): Promise<Outgoing[]>;
  deadline(): Promise<Outgoing[]>;
  result(): SecAggResult;
}

/** Client state machine as a participant drives it (src/secagg SecAggClient). */
export interface RoundClient {
  readonly stage: SecAggStage;
  start(): Outgoing[] | Promise<Outgoing[]>;
  handle(frame: Uint8Array): Promise<Outgoing[]>;
}

/** Parameters the coordinator chooses for one round. */
export interface RoundParams {
  n: number;
  threshold: number;
  /** Fewest masked inputs the sum may hold (default threshold). */
  minSurvivors?: number;
  dim: number;
  bits: number;
  graph: 'full' | 'harary';
  degree: number;
  mode: 'semi-honest' | 'active';
  seed: Uint8Array;
  round: number;
  stageTimeoutMs: number;
  maxFrameBytes: number;
  /** Active mode: the roster's Ed25519 public keys, index id-1 (their transport identities). */
  verifyKeys?: readonly Uint8Array[];
  /** The round commitment (roster root, plan hash, model hash, coordinator session). */
  commitment?: RoundCommitment;
}

export interface Protocol {
  /** Validate parameters into a frozen config (throws InvalidArgument / InfeasibleParameters). */
  makeConfig(params: RoundParams): SecAggConfig;
  createServer(config: SecAggConfig): RoundServer;
  /** `signingKey`: active mode only, this client's Ed25519 secret key (its key in `config.verifyKeys`). */
  createClient(config: SecAggConfig, id: number, input: Uint32Array, signingKey?: Uint8Array): RoundClient;
  /**
   * Choose (graph, degree, threshold) for n clients tolerating the given
   * dropout fraction; in active mode with `colluders` = g > 0 the threshold
   * must also satisfy 2t > k + 1 + g (what clients' policies check).
   */
  chooseParams(n: number, dropout: number, colluders?: number, mode?: 'semi-honest' | 'active'): { graph: 'full' | 'harary'; degree: number; threshold: number };
}
