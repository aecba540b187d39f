/**
 * The aggregation step of a simulated round, behind one small interface so
 * the coordinator does not care how the modular sum is obtained:
 *
 * - {@link secureAggregator}: the real protocol. Runs the secagg layer's
 *   in-memory SecAgg / SecAgg+ round (Bonawitz et al. 2017; Bell et al.
 *   2020) with the round's roster, threshold and graph, and the injected
 *   dropouts. The server state machine only ever sees masked vectors.
 * - {@link plainSumAggregator}: NOT SECURE, for benchmarks only. Adds the
 *   survivors' integer vectors mod 2^b in the clear. Secure aggregation
 *   outputs exactly this sum (it is exact modular arithmetic), so accuracy
 *   and privacy accounting are identical; only the cost differs. It is used
 *   to measure the overhead of secure aggregation and to run long
 *   privacy-utility sweeps within a time limit, and is labelled as such
 *   wherever it is used.
 */
import { addModInto } from '../encode/index.js';
import { ThresholdNotMet } from '../errors.js';
import type { RandomSource } from '../crypto/random.js';
import type { DropoutSchedule, SecAggGraph } from '../secagg/types.js';

export interface AggregationRequest {
  /** One integer vector per roster member, index id-1 (dropped clients' entries are ignored). */
  readonly inputs: readonly Uint32Array[];
  readonly bits: number;
  readonly threshold: number;
  readonly degree: number;
  readonly graph: SecAggGraph;
  readonly round: number;
  /** Public 32-byte round seed. */
  readonly seed: Uint8Array;
  readonly dropouts: DropoutSchedule;
  readonly rng: RandomSource;
}

export interface AggregationResult {
  /** Sum mod 2^bits of the survivors' inputs. */
  readonly sum: Uint32Array;
  /** 1-based ids whose input is in the sum. */
  readonly survivors: readonly number[];
  /** Bytes on the wire (all clients, both directions); 0 for the plain sum. */
  readonly bytes: number;
}

export interface Aggregator {
  readonly name: 'secagg' | 'plain-sum';
  /** Throws a ProtocolAborted (e.g. ThresholdNotMet) when the round cannot complete. */
  aggregate(req: AggregationRequest): Promise<AggregationResult>;
}

/** Who is in the sum under a dropout schedule (clients dropping before the masked input are not). */
export function survivorsOf(n: number, dropouts: DropoutSchedule): number[] {
  const gone = new Set([...(dropouts.beforeAdvertise ?? []), ...(dropouts.beforeShareKeys ?? []), ...(dropouts.beforeMaskedInput ?? [])]);
  const out: number[] = [];
  for (let id = 1; id <= n; id++) if (!gone.has(id)) out.push(id);
  return out;
}

/** In-the-clear modular sum with the same threshold rule. NOT SECURE: benchmarks only. */
export function plainSumAggregator(): Aggregator {
  return Object.freeze({
    name: 'plain-sum' as const,
    async aggregate(req: AggregationRequest): Promise<AggregationResult> {
      const n = req.inputs.length;
      const survivors = survivorsOf(n, req.dropouts);
      // Same rule as the protocol: fewer than t masked inputs -> abort (I2).
      if (survivors.length < req.threshold) throw new ThresholdNotMet(survivors.length, req.threshold, 'MaskedInputCollection');
      const sum = new Uint32Array(req.inputs[0]!.length);
      for (const id of survivors) addModInto(sum, req.inputs[id - 1]!, req.bits);
      return { sum, survivors, bytes: 0 };
    },
  });
}
