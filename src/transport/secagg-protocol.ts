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
    }),
  createServer: (config) => new SecAggServer({ config }),
  createClient: (config, id, input, signingKey) => new SecAggClient({ config, id, input, ...(signingKey ? { signingKey } : {}) }),
  chooseParams: (n, dropout) => {
    const p = findSecAggPlusParams({ clients: n, dropout, corrupt: CORRUPT_FRACTION });
    return { graph: p.graph, degree: p.degree, threshold: p.threshold };
  },
};

export const secAggProtocol: Protocol = Object.freeze(protocol);
