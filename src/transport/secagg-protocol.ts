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

/** Corrupt fraction assumed when choosing SecAgg+ parameters (the DESIGN.md default). */
const CORRUPT_FRACTION = 0.05;

const protocol: Protocol = {
  makeConfig: (p) =>
    makeConfig({
      n: p.n,
      threshold: p.threshold,
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
  chooseParams: (n, dropout, colluders = 0) => {
    const p = findSecAggPlusParams({ clients: n, dropout, corrupt: CORRUPT_FRACTION });
    const holders = p.graph === 'full' ? n : p.degree + 1;
    // The clients' majority rule with g colluders: 2t > holders + g (and at
    // least the finder's t). The finder's own active-mode floor is 2t > k + 1.
    const majority = Math.floor((holders + colluders) / 2) + 1;
    const threshold = Math.max(p.threshold, majority);
    if (threshold > holders) {
      throw new InfeasibleParameters(`colluders: g = ${colluders} needs a threshold above ${holders} share holders for n = ${n}; lower g or raise the roster size`);
    }
    return { graph: p.graph, degree: p.degree, threshold };
  },
};

export const secAggProtocol: Protocol = Object.freeze(protocol);
