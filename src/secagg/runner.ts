/**
 * In-memory runner for one SecAgg round (the embedded default): n client
 * state machines and one server, frames passed by reference in memory, a
 * dropout schedule saying who stops before which stage. Returns the exact
 * sum mod 2^b of the survivors' inputs or throws the typed abort
 * (ThresholdNotMet, ProtocolAborted, ...): never a wrong sum.
 *
 * Frames really are encoded and decoded (so sizes are wire sizes), and
 * masked inputs go to the server as soon as each client produces them, so
 * memory stays O(n + d) vectors rather than O(n d) frames in flight.
 */
import { InvalidArgument, ProtocolAborted } from '../errors.js';
import type { RandomSource } from '../crypto/random.js';
import { SecAggClient } from './client.js';
import { SecAggServer } from './server.js';
import type { DropoutSchedule, Outgoing, SecAggConfig, SecAggResult, SecAggStats } from './types.js';

export interface RunSecAggRoundOptions {
  /** inputs[id-1] is client id's vector (length dim, entries < 2^bits). */
  inputs: Uint32Array[];
  config: SecAggConfig;
  dropouts?: DropoutSchedule;
  rng?: RandomSource;
  /** Active mode: Ed25519 secret keys of the roster (index id-1). */
  signingKeys?: Uint8Array[];
  /** Instrumentation hook called on every client before the round starts (benchmarks). */
  onClientCreated?: (client: SecAggClient) => void;
}

export interface SecAggRoundResult extends SecAggResult {
  stats: SecAggStats;
}

type DropStage = keyof DropoutSchedule;
const STAGES: DropStage[] = ['beforeAdvertise', 'beforeShareKeys', 'beforeMaskedInput', 'beforeConsistency', 'beforeUnmasking'];

export async function runSecAggRound(opts: RunSecAggRoundOptions): Promise<SecAggRoundResult> {
  const { config, inputs } = opts;
  if (!Array.isArray(inputs) || inputs.length !== config.n) throw new InvalidArgument(`inputs: expected ${config.n} vectors, got ${Array.isArray(inputs) ? inputs.length : typeof inputs}`);
  const dropAt = new Map<number, DropStage>();
  for (const stage of STAGES) {
    for (const id of opts.dropouts?.[stage] ?? []) {
      if (!Number.isSafeInteger(id) || id < 1 || id > config.n) throw new InvalidArgument(`dropouts.${stage}: ${id} is not a roster id`);
      if (!dropAt.has(id)) dropAt.set(id, stage);
    }
  }
  const n = config.n;
  const stats: SecAggStats = {
    bytesUp: new Array<number>(n).fill(0),
    bytesDown: new Array<number>(n).fill(0),
    clientMs: new Array<number>(n).fill(0),
    serverMs: 0,
    stageCounts: { advertised: 0, shared: 0, masked: 0, unmasked: 0 },
  };
  const server = new SecAggServer({ config });
  const clients = inputs.map((input, i) => new SecAggClient({
    id: i + 1, config, input, ...(opts.rng ? { rng: opts.rng } : {}),
    ...(opts.signingKeys ? { signingKey: opts.signingKeys[i] } : {}),
  }));
  if (opts.onClientCreated) clients.forEach(opts.onClientCreated);
  const alive = (id: number, stage: DropStage): boolean => {
    const d = dropAt.get(id);
    return d === undefined || STAGES.indexOf(d) > STAGES.indexOf(stage);
  };
  // The stage a client's reply belongs to, from the stage it is in when a frame arrives.
  const replyStage = (stage: string): DropStage | undefined => {
    switch (stage) {
      case 'AdvertiseKeys': return 'beforeShareKeys';
      case 'ShareKeys': return 'beforeMaskedInput';
      case 'MaskedInputCollection': return config.mode === 'active' ? 'beforeConsistency' : 'beforeUnmasking';
      case 'ConsistencyCheck': return 'beforeUnmasking';
      default: return undefined;
    }
  };
  const counters: Partial<Record<DropStage, keyof SecAggStats['stageCounts']>> = {
    beforeAdvertise: 'advertised', beforeShareKeys: 'shared', beforeMaskedInput: 'masked', beforeUnmasking: 'unmasked',
  };

  const toServer = (from: number, out: Outgoing[], stage: DropStage | undefined): Outgoing[] => {
    const replies: Outgoing[] = [];
    for (const o of out) {
      stats.bytesUp[from - 1]! += o.frame.length;
      const t0 = performance.now();
      replies.push(...server.handleSync(from, o.frame));
      stats.serverMs += performance.now() - t0;
    }
    const c = stage && counters[stage];
    if (c && out.length > 0) stats.stageCounts[c]++;
    return replies;
  };

  let pending: Outgoing[] = [];
  for (const client of clients) {
    if (!alive(client.id, 'beforeAdvertise')) continue;
    const t0 = performance.now();
    const out = client.start();
    stats.clientMs[client.id - 1]! += performance.now() - t0;
    pending.push(...toServer(client.id, out, 'beforeAdvertise'));
  }
  for (let guard = 0; guard < 16 && server.stage !== 'Done' && server.stage !== 'Aborted'; guard++) {
    if (pending.length === 0) {
      const t0 = performance.now();
      pending = await server.deadline();
      stats.serverMs += performance.now() - t0;
      continue;
    }
    const batch = pending;
    pending = [];
    for (const o of batch) {
      if (o.to === 'server') continue;
      const id = o.to;
      stats.bytesDown[id - 1]! += o.frame.length;
      const client = clients[id - 1]!;
      if (client.stage === 'Aborted' || client.stage === 'Done') continue;
      const stage = replyStage(client.stage);
      if (stage && !alive(id, stage)) continue;
      const t0 = performance.now();
      let out: Outgoing[] = [];
      try {
        out = await client.handle(o.frame);
      } catch {
        // The client aborted (its typed error is on client.error); for the server it is a dropout.
      }
      stats.clientMs[id - 1]! += performance.now() - t0;
      pending.push(...toServer(id, out, stage));
    }
  }
  if (server.stage !== 'Done' && server.stage !== 'Aborted') throw new ProtocolAborted(`round did not finish (stuck at ${server.stage})`, { code: 'STUCK' });
  const result = server.result();
  return { sum: result.sum, survivors: result.survivors, stats };
}

