/**
 * A plaintext stand-in for the SecAgg state machines (tests only): two
 * stages (AdvertiseKeys -> MaskedInputCollection), sum of the survivors'
 * inputs. Lets the transport tests exercise routing, deadlines and
 * dropouts independently of the real protocol.
 */
import { pack, unpack } from 'msgpackr';
import type { Outgoing, SecAggConfig, SecAggStage } from '../../src/secagg/types.js';
import type { Protocol, RoundClient, RoundParams, RoundServer } from '../../src/fl/protocol.js';

class FakeServer implements RoundServer {
  stage: SecAggStage = 'AdvertiseKeys';
  private readonly advertised = new Set<number>();
  private readonly inputs = new Map<number, Uint32Array>();
  constructor(private readonly config: SecAggConfig) {}

  async handle(from: number, frame: Uint8Array): Promise<Outgoing[]> {
    const m = unpack(frame) as { type: string; y?: Uint8Array };
    if (this.stage === 'AdvertiseKeys' && m.type === 'AdvertiseKeys') {
      this.advertised.add(from);
      if (this.advertised.size === this.config.n) return this.advance();
    } else if (this.stage === 'MaskedInputCollection' && m.type === 'MaskedInput' && this.advertised.has(from) && m.y) {
      this.inputs.set(from, new Uint32Array(new Uint8Array(m.y).buffer));
      if (this.inputs.size === this.advertised.size) return this.advance();
    }
    return [];
  }

  private advance(): Outgoing[] {
    if (this.stage === 'AdvertiseKeys') {
      if (this.advertised.size < this.config.threshold) {
        this.stage = 'Aborted';
        return [];
      }
      this.stage = 'MaskedInputCollection';
      return [...this.advertised].map((to) => ({ to, frame: pack({ type: 'KeysBroadcast' }) }));
    }
    this.stage = this.inputs.size >= this.config.threshold ? 'Done' : 'Aborted';
    return [];
  }

  async deadline(): Promise<Outgoing[]> {
    return this.advance();
  }

  result() {
    if (this.stage !== 'Done') throw new Error('aborted');
    const sum = new Uint32Array(this.config.dim);
    const mask = this.config.bits === 32 ? 0xffffffff : 2 ** this.config.bits - 1;
    for (const v of this.inputs.values()) for (let i = 0; i < sum.length; i++) sum[i] = ((sum[i]! + v[i]!) & mask) >>> 0;
    return { sum, survivors: [...this.inputs.keys()].sort((a, b) => a - b) };
  }
}

class FakeClient implements RoundClient {
  stage: SecAggStage = 'AdvertiseKeys';
  constructor(private readonly id: number, private readonly input: Uint32Array) {}
  start(): Outgoing[] {
    return [{ to: 'server', frame: pack({ type: 'AdvertiseKeys', from: this.id }) }];
  }
  async handle(frame: Uint8Array): Promise<Outgoing[]> {
    const m = unpack(frame) as { type: string };
    if (m.type !== 'KeysBroadcast') return [];
    this.stage = 'MaskedInputCollection';
    return [{ to: 'server', frame: pack({ type: 'MaskedInput', from: this.id, y: new Uint8Array(this.input.slice().buffer) }) }];
  }
}

export const fakeProtocol: Protocol = {
  makeConfig: (p: RoundParams) => ({ ...p, version: 1, limits: { maxFrameBytes: p.maxFrameBytes } }) as unknown as SecAggConfig,
  createServer: (config) => new FakeServer(config),
  createClient: (_config, id, input) => new FakeClient(id, input),
  chooseParams: (n) => ({ graph: 'full', degree: n - 1, threshold: Math.floor(n / 2) + 1 }),
};
