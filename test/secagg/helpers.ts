/**
 * Test harness for the SecAgg state machines: builds configs, inputs and
 * clients from a fixed seed, and drives a round step by step so tests can
 * intercept, drop, replay or rewrite frames between stages.
 */
import { deterministicRandom, type RandomSource } from '../../src/crypto/random.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { makeConfig } from '../../src/secagg/config.js';
import { SecAggClient } from '../../src/secagg/client.js';
import { SecAggServer } from '../../src/secagg/server.js';
import type { Outgoing, SecAggConfig, SecAggConfigInput } from '../../src/secagg/types.js';

export function randomInputs(n: number, dim: number, bits: number, rng: RandomSource): Uint32Array[] {
  return Array.from({ length: n }, () => {
    const v = new Uint32Array(dim);
    rng.fill(new Uint8Array(v.buffer));
    if (bits < 32) for (let i = 0; i < dim; i++) v[i] = v[i]! & ((2 ** bits) - 1);
    return v;
  });
}

export function plainSum(inputs: Uint32Array[], ids: number[], bits: number): Uint32Array {
  const out = new Uint32Array(inputs[0]!.length);
  const mod = 2 ** bits;
  for (const id of ids) {
    const x = inputs[id - 1]!;
    for (let i = 0; i < out.length; i++) out[i] = (out[i]! + x[i]!) % mod;
  }
  return out;
}

export interface Harness {
  config: SecAggConfig;
  server: SecAggServer;
  clients: SecAggClient[];
  inputs: Uint32Array[];
  signingKeys: Uint8Array[];
}

/** Config + server + clients, everything deterministic from `seed`. */
export function harness(input: Omit<SecAggConfigInput, 'seed' | 'verifyKeys'> & { seed?: number }): Harness {
  const rng = deterministicRandom(input.seed ?? 1);
  const seedBytes = new Uint8Array(32);
  rng.fill(seedBytes);
  const signing = input.mode === 'active' ? Array.from({ length: input.n }, () => ed25519KeyPair(rng)) : [];
  const { seed: _ignored, ...rest } = input;
  const config = makeConfig({
    ...rest, seed: seedBytes,
    ...(input.mode === 'active' ? { verifyKeys: signing.map((k) => k.publicKey) } : {}),
  });
  const inputs = randomInputs(config.n, config.dim, config.bits, rng);
  const clients = inputs.map((x, i) => new SecAggClient({
    id: i + 1, config, input: x, rng,
    ...(input.mode === 'active' ? { signingKey: signing[i]!.secretKey } : {}),
  }));
  return { config, server: new SecAggServer({ config }), clients, inputs, signingKeys: signing.map((k) => k.secretKey) };
}

/** Frames addressed to clients, grouped by recipient. */
export function byRecipient(out: Outgoing[]): Map<number, Uint8Array[]> {
  const m = new Map<number, Uint8Array[]>();
  for (const o of out) {
    if (o.to === 'server') continue;
    const list = m.get(o.to) ?? [];
    list.push(o.frame);
    m.set(o.to, list);
  }
  return m;
}

/** Deliver client frames to the server; returns the server's replies. */
export async function toServer(h: Harness, from: number, out: Outgoing[]): Promise<Outgoing[]> {
  const replies: Outgoing[] = [];
  for (const o of out) replies.push(...(await h.server.handle(from, o.frame)));
  return replies;
}

/**
 * Deliver server frames to clients (except those in `skip`), feed their
 * answers back; returns the server's next frames.
 */
export async function exchange(h: Harness, serverOut: Outgoing[], skip: number[] = []): Promise<Outgoing[]> {
  const next: Outgoing[] = [];
  for (const [id, frames] of byRecipient(serverOut)) {
    if (skip.includes(id)) continue;
    for (const f of frames) {
      const out = await h.clients[id - 1]!.handle(f);
      next.push(...(await toServer(h, id, out)));
    }
  }
  return next;
}

/** Run AdvertiseKeys: every client (except skip) starts; returns the key broadcast frames. */
export async function advertise(h: Harness, skip: number[] = []): Promise<Outgoing[]> {
  const out: Outgoing[] = [];
  for (const c of h.clients) {
    if (skip.includes(c.id)) continue;
    out.push(...(await toServer(h, c.id, c.start())));
  }
  if (out.length === 0) out.push(...(await h.server.deadline()));
  return out;
}
