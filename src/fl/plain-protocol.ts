/**
 * NOT SECURE: a plaintext stand-in for the secure-aggregation state
 * machines, for simulations and benchmarks only. Clients send their integer
 * vector in the clear; the server adds the survivors' vectors mod 2^b.
 * Secure aggregation outputs exactly this sum (exact modular arithmetic),
 * so accuracy and privacy accounting are identical; only the cost differs.
 * It lets long privacy-utility sweeps run in the time available, and is
 * labelled as such wherever it is used.
 *
 * It keeps the stage sequence the round coordinator relies on: keys
 * (AdvertiseKeys), inputs (MaskedInputCollection), then an Unmasking stage
 * that opens only after the coordinator's write-ahead hook, so a ledger is
 * written before the sum exists, as with the real protocol.
 */
import { pack, unpack } from 'msgpackr';
import type { Outgoing, SecAggConfig, SecAggResult, SecAggStage } from '../secagg/types.js';
import { makeConfig } from '../secagg/config.js';
import { InfeasibleParameters, ThresholdNotMet } from '../errors.js';
import type { Protocol, RoundClient, RoundServer } from './protocol.js';

function frameOf(type: string, extra: Record<string, unknown> = {}): Uint8Array {
  return pack({ type, ...extra });
}

class PlainServer implements RoundServer {
  stage: SecAggStage = 'AdvertiseKeys';
  private readonly advertised = new Set<number>();
  private readonly inputs = new Map<number, Uint32Array>();
  private readonly acked = new Set<number>();
  constructor(private readonly config: SecAggConfig) {}

  async handle(from: number, frame: Uint8Array): Promise<Outgoing[]> {
    let m: { type?: unknown; y?: unknown };
    try {
      m = unpack(frame) as { type?: unknown; y?: unknown };
    } catch {
      return [];
    }
    if (this.stage === 'AdvertiseKeys' && m.type === 'AdvertiseKeys') {
      this.advertised.add(from);
      if (this.advertised.size === this.config.n) return this.advance();
    } else if (this.stage === 'MaskedInputCollection' && m.type === 'MaskedInput' && this.advertised.has(from) && m.y instanceof Uint8Array) {
      if (m.y.length !== this.config.dim * 4) return [];
      this.inputs.set(from, new Uint32Array(m.y.slice().buffer));
      if (this.inputs.size === this.advertised.size) return this.advance();
    } else if (this.stage === 'Unmasking' && m.type === 'UnmaskingResponse' && this.inputs.has(from)) {
      this.acked.add(from);
      if (this.acked.size === this.inputs.size) return this.advance();
    }
    return [];
  }

  private advance(): Outgoing[] {
    const need = Math.max(this.config.threshold, this.config.minSurvivors);
    if (this.stage === 'AdvertiseKeys') {
      if (this.advertised.size < this.config.threshold) {
        this.stage = 'Aborted';
        return [];
      }
      this.stage = 'MaskedInputCollection';
      return [...this.advertised].map((to) => ({ to, frame: frameOf('KeysBroadcast') }));
    }
    if (this.stage === 'MaskedInputCollection') {
      if (this.inputs.size < need) {
        this.stage = 'Aborted';
        return [];
      }
      this.stage = 'Unmasking';
      return [...this.inputs.keys()].map((to) => ({ to, frame: frameOf('UnmaskingRequest') }));
    }
    if (this.stage === 'Unmasking') this.stage = 'Done';
    return [];
  }

  async deadline(): Promise<Outgoing[]> {
    return this.advance();
  }

  result(): SecAggResult {
    if (this.stage !== 'Done') throw new ThresholdNotMet(this.inputs.size, this.config.threshold, this.stage);
    const sum = new Uint32Array(this.config.dim);
    const bits = this.config.bits;
    for (const v of this.inputs.values()) {
      if (bits === 32) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + v[i]!) >>> 0;
      else {
        const mask = 2 ** bits - 1;
        for (let i = 0; i < sum.length; i++) sum[i] = ((sum[i]! + v[i]!) & mask) >>> 0;
      }
    }
    return { sum, survivors: [...this.inputs.keys()].sort((a, b) => a - b) } as unknown as SecAggResult;
  }
}

class PlainClient implements RoundClient {
  stage: SecAggStage = 'AdvertiseKeys';
  constructor(private readonly input: Uint32Array) {}
  start(): Outgoing[] {
    return [{ to: 'server', frame: frameOf('AdvertiseKeys') }];
  }
  async handle(frame: Uint8Array): Promise<Outgoing[]> {
    let m: { type?: unknown };
    try {
      m = unpack(frame) as { type?: unknown };
    } catch {
      return [];
    }
    if (m.type === 'KeysBroadcast' && this.stage === 'AdvertiseKeys') {
      this.stage = 'MaskedInputCollection';
      return [{ to: 'server', frame: frameOf('MaskedInput', { y: new Uint8Array(this.input.slice().buffer) }) }];
    }
    if (m.type === 'UnmaskingRequest' && this.stage === 'MaskedInputCollection') {
      this.stage = 'Done';
      return [{ to: 'server', frame: frameOf('UnmaskingResponse') }];
    }
    return [];
  }
}

/** NOT SECURE (see the module header): the plaintext sum with the coordinator's stage sequence. */
export function plainSumProtocol(fullGraphUpTo = Infinity): Protocol {
  return Object.freeze({
    makeConfig: (p) => makeConfig({
      n: p.n, threshold: p.threshold, ...(p.minSurvivors !== undefined ? { minSurvivors: p.minSurvivors } : {}), dim: p.dim, bits: p.bits,
      graph: p.graph, degree: p.degree, mode: p.mode, seed: p.seed, round: p.round, stageTimeoutMs: p.stageTimeoutMs,
      limits: { maxFrameBytes: p.maxFrameBytes }, ...(p.verifyKeys ? { verifyKeys: p.verifyKeys } : {}), ...(p.commitment ? { commitment: p.commitment } : {}),
    }),
    createServer: (config) => new PlainServer(config),
    createClient: (_config, _id, input) => new PlainClient(input),
    chooseParams: (n, _dropout, colluders = 0, mode = 'semi-honest') => {
      if (n > fullGraphUpTo) throw new InfeasibleParameters(`plain-sum protocol: roster of ${n} above its bound ${fullGraphUpTo}`);
      const t = Math.max(2, mode === 'active' ? Math.floor((n + colluders) / 2) + 1 : Math.floor(n / 2) + 1);
      return { graph: 'full' as const, degree: n - 1, threshold: Math.min(n, t) };
    },
  } satisfies Protocol);
}
