/**
 * The default {@link Protocol}: fedveil's SecAgg / SecAgg+ state machines
 * (src/secagg), with (graph, degree, threshold) from the SecAgg+ parameter
 * finder (Bell et al. 2020) for the roster size and the tolerated dropout.
 */
import { makeConfig } from '../secagg/config.js';
import { findSecAggPlusParams } from '../secagg/params.js';
import { SecAggClient } from '../secagg/client.js';
import { SecAggServer } from '../secagg/server.js';
import type { Protocol } from './protocol.js';
import { InfeasibleParameters } from '../errors.js';

/** Corrupt fraction assumed when choosing SecAgg+ parameters. */
const CORRUPT_FRACTION = 0.05;
/**
 * Rosters up to this size use the full graph: the finder's sparse graphs
 * for small n leave one or two dropouts of slack per neighbourhood, and the
 * full graph's O(n^2) cost is negligible there.
 */
const SMALL_ROSTER = 64;

/** The SecAgg binding with its own small-roster bound: rosters up to `fullGraphUpTo` use the full graph. */
export function secAggProtocolWith(opts: { fullGraphUpTo?: number } = {}): Protocol {
  const small = opts.fullGraphUpTo ?? SMALL_ROSTER;
  const protocol: Protocol = {
  makeConfig: (p) =>
    makeConfig({
      n: p.n,
      threshold: p.threshold,
      ...(p.minSurvivors !== undefined ? { minSurvivors: p.minSurvivors } : {}),
      dim: p.dim,
      bits: p.bits,
      graph: p.graph,
      degree: p.degree,
      mode: p.mode,
      seed: p.seed,
      round: p.round,
      stageTimeoutMs: p.stageTimeoutMs,
      limits: { maxFrameBytes: p.maxFrameBytes },
      ...(p.verifyKeys ? { verifyKeys: p.verifyKeys } : {}),
      ...(p.commitment ? { commitment: p.commitment } : {}),
    }),
  createServer: (config) => new SecAggServer({ config }),
  createClient: (config, id, input, signingKey) => new SecAggClient({ config, id, input, ...(signingKey ? { signingKey } : {}) }),
  chooseParams: (n, dropout, colluders = 0, mode = 'semi-honest') => {
    // Active mode: the finder's semi-malicious parameters (corrupt clients
    // among the neighbours, Bell et al. 2020), then the clients' majority
    // rule with g colluders, 2t > holders + g.
    const majority = (holders: number): number => Math.floor((holders + colluders) / 2) + 1;
    if (n > small) {
      const p = findSecAggPlusParams({ clients: n, dropout, corrupt: CORRUPT_FRACTION, ...(mode === 'active' ? { adversary: 'semi-malicious' as const } : {}) });
      const holders = p.graph === 'full' ? n : p.degree + 1;
      const threshold = mode === 'active' ? Math.max(p.threshold, majority(holders)) : p.threshold;
      // Keep the dropout slack per neighbourhood the finder planned for.
      if (holders - threshold >= Math.ceil(dropout * holders)) return { graph: p.graph, degree: p.degree, threshold };
    }
    // Small rosters (and sparse graphs left without dropout slack): the full
    // graph, whose cost is negligible there and which tolerates n - t dropouts.
    const t = Math.max(2, mode === 'active' ? majority(n) : Math.floor(n / 2) + 1);
    if (t > n) throw new InfeasibleParameters(`colluders: g = ${colluders} needs a threshold above the roster size n = ${n}; lower g or add clients`);
    return { graph: 'full' as const, degree: n - 1, threshold: t };
  },
  };
  return Object.freeze(protocol);
}

export const secAggProtocol: Protocol = secAggProtocolWith();
