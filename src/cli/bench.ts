/**
 * `fedveil bench secagg --clients N --dim d [--dropout p] [--graph full|harary]
 *   [--bits b] [--threshold t] [--sample S] [--repeat R] [--json]`
 *
 * Runs real SecAgg rounds in memory (src/secagg/runner.ts: every frame is
 * encoded, decoded and validated) with `round(p n)` clients dropping after
 * ShareKeys (before sending their masked input, the costliest dropout for
 * the server), and reports medians over R rounds:
 *
 * - clientMs: wall time inside one client's state machine over the whole
 *   round (keys, shares, masking, unmasking), median over the timed clients;
 * - serverMs: wall time inside the server state machine for the round
 *   (validation, routing, summing n masked vectors, reconstruction, unmasking);
 * - bytesUpPerClient / bytesDownPerClient: wire bytes (msgpack frames) of a
 *   surviving client, median;
 * - protocolBytesUpPerClient: bytesUp minus the packed vector (keys, shares, envelopes);
 * - expansion: bytesUp / (4 d) (vs plain float32) and bytesUp / (d b / 8);
 * - prgLimitRatio: (k + 1) d 4 bytes / AES-128-CTR throughput of node:crypto
 *   (one core, 64 KiB updates, steady rate) measured in the same process, divided by
 *   clientMs: the share of the client's time that the raw PRG would need
 *   (1 = PRG-bound);
 * - serverPrgExpansions, serverPrgLimitRatio: the same for the server's
 *   unmasking PRG work (it uses 2 cores on Node, so it can exceed 1);
 * - sumCorrect: the unmasked sum equals the plain sum of the survivors' inputs.
 *
 * Sampling (`--sample S`, default: every client when n (k+1) d <= 5e9, else
 * 20): all n clients run the full protocol (keys, Shamir shares, AEAD,
 * masked inputs that the server validates and sums), but only S clients
 * compute every pairwise mask and are timed. The others skip the pairwise
 * masks with other untimed survivors, which cancel in the sum anyway, so
 * the server's input, work and result are unchanged (benchmark-only hook,
 * src/secagg/bench-hooks.ts). The JSON says `timedClients`.
 */
import { cpus } from 'node:os';
import { createCipheriv } from 'node:crypto';
import { Option, type Command } from 'commander';
import { InvalidArgument } from '../errors.js';
import { deterministicRandom } from '../crypto/random.js';
import { makeConfig } from '../secagg/config.js';
import { findSecAggPlusParams } from '../secagg/params.js';
import { runSecAggRound } from '../secagg/runner.js';
import { OMIT_PAIRWISE_MASK } from '../secagg/bench-hooks.js';
import { neighbourGraph } from '../secagg/graph.js';
import type { SecAggGraph } from '../secagg/types.js';
import { parsePositiveInteger, parseProbability, printJson, parseDropout, parseDimension } from './common.js';

export interface SecAggBenchOptions {
  clients: number;
  dim: number;
  dropout: number;
  graph: SecAggGraph;
  bits: number;
  threshold?: number;
  sample?: number;
  repeat: number;
}

export interface SecAggBenchResult {
  clients: number;
  dim: number;
  dropout: number;
  graph: SecAggGraph;
  degree: number;
  threshold: number;
  bits: number;
  repeat: number;
  timedClients: number;
  clientMs: number;
  serverMs: number;
  bytesUpPerClient: number;
  bytesDownPerClient: number;
  /** bytesUpPerClient minus the packed vector ceil(d b / 8): envelopes, keys, encrypted shares, revealed shares. */
  protocolBytesUpPerClient: number;
  expansion: { vsFloat32: number; vsPacked: number };
  prgLimitRatio: number;
  /** PRG expansions of d words the server performs to unmask (survivors + dropped x surviving neighbours). */
  serverPrgExpansions: number;
  /** serverPrgExpansions x 4 d bytes / one core's AES-CTR throughput, divided by serverMs (> 1: faster than one core's raw AES, i.e. using 2 cores). */
  serverPrgLimitRatio: number;
  aesCtrMBps: number;
  sumCorrect: boolean;
  machine: { cpus: number; model: string; node: string };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * node:crypto AES-128-CTR keystream limit of one core, bytes per ms: 48
 * samples of 4 MB in 64 KiB updates (the fastest chunk size, docs/crypto.md),
 * median of the fastest quarter. The fastest quarter, because Node's
 * output-buffer allocation alternates between a regime where fresh pages
 * are faulted in (~1.4 GB/s here) and a steady one (~5 GB/s), for stretches
 * of ~100 MB; the limit is the steady rate.
 */
function aesCtrThroughput(): number {
  const chunk = new Uint8Array(1 << 16);
  const total = 1 << 22;
  const rates: number[] = [];
  for (let i = 0; i < 48; i++) {
    const c = createCipheriv('aes-128-ctr', new Uint8Array(16).fill(i), new Uint8Array(16));
    const t0 = performance.now();
    for (let done = 0; done < total; done += chunk.length) c.update(chunk);
    rates.push(total / (performance.now() - t0));
  }
  return median(rates.sort((a, b) => b - a).slice(0, 12));
}

export async function benchSecAgg(o: SecAggBenchOptions): Promise<SecAggBenchResult> {
  const n = o.clients;
  let degree: number;
  let threshold: number;
  if (o.graph === 'harary') {
    const p = findSecAggPlusParams({ clients: n, dropout: Math.max(o.dropout, 0.05), corrupt: 0.05 });
    if (p.graph !== 'harary') throw new InvalidArgument(`no sparse graph is feasible for ${n} clients; use --graph full`);
    degree = p.degree;
    threshold = o.threshold ?? p.threshold;
  } else {
    degree = n - 1;
    // Classic SecAgg: an honest majority of holders must answer.
    threshold = o.threshold ?? Math.floor(n / 2) + 1;
  }
  const dropCount = Math.round(o.dropout * n);
  if (n - dropCount < threshold) throw new InvalidArgument(`${dropCount} dropouts leave fewer than t = ${threshold} clients`);
  const timed = Math.min(n, o.sample ?? (n * (degree + 1) * o.dim <= 5e9 ? n : 20));
  const aes = aesCtrThroughput();
  const rng = deterministicRandom(42);
  const mod = 2 ** o.bits;
  // A small pool of random input vectors (memory stays O(d), not O(n d)).
  const pool = Array.from({ length: 4 }, () => {
    const v = new Uint32Array(o.dim);
    rng.fill(new Uint8Array(v.buffer));
    if (o.bits < 32) for (let i = 0; i < o.dim; i++) v[i] = v[i]! % mod;
    return v;
  });
  const inputs = Array.from({ length: n }, (_, i) => pool[i % pool.length]!);
  const rows: { clientMs: number; serverMs: number; up: number; down: number; ratio: number; serverKeys: number; serverRatio: number; ok: boolean }[] = [];
  for (let r = 0; r < o.repeat; r++) {
    const seed = new Uint8Array(32);
    rng.fill(seed);
    const config = makeConfig({ n, threshold, dim: o.dim, bits: o.bits, graph: o.graph, ...(o.graph === 'harary' ? { degree } : {}), seed, round: r });
    // Dropouts and timed clients: evenly spread ids (the graph relabelling is random anyway).
    const dropped = new Set(Array.from({ length: dropCount }, (_, i) => 1 + Math.floor((i * n) / dropCount)));
    const timedIds = new Set<number>();
    for (let id = 1; timedIds.size < timed && id <= n; id++) if (!dropped.has(id)) timedIds.add(id);
    const res = await runSecAggRound({
      inputs, config, rng, dropouts: { beforeMaskedInput: [...dropped] },
      onClientCreated: (c) => {
        if (timedIds.has(c.id)) return;
        c[OMIT_PAIRWISE_MASK] = (peer: number) => !timedIds.has(peer) && !dropped.has(peer);
      },
    });
    const expect = new Uint32Array(o.dim);
    for (const id of res.survivors) {
      const x = inputs[id - 1]!;
      for (let i = 0; i < o.dim; i++) expect[i] = (expect[i]! + x[i]!) % mod;
    }
    const survivors = res.survivors;
    const clientMs = median([...timedIds].map((id) => res.stats.clientMs[id - 1]!));
    // Server PRG expansions: one self mask per survivor, one pairwise mask per (dropped, surviving neighbour).
    const graph = neighbourGraph(config);
    const alive = new Set(survivors);
    let serverKeys = survivors.length;
    for (const v of dropped) serverKeys += graph.neighbours(v).filter((u) => alive.has(u)).length;
    rows.push({
      clientMs,
      serverMs: res.stats.serverMs,
      up: median(survivors.map((id) => res.stats.bytesUp[id - 1]!)),
      down: median(survivors.map((id) => res.stats.bytesDown[id - 1]!)),
      ratio: ((degree + 1) * o.dim * 4) / aes / clientMs,
      serverKeys,
      serverRatio: (serverKeys * o.dim * 4) / aes / res.stats.serverMs,
      ok: survivors.length === n - dropCount && expect.every((x, i) => x === res.sum[i]),
    });
  }
  const up = median(rows.map((x) => x.up));
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    clients: n, dim: o.dim, dropout: o.dropout, graph: o.graph, degree, threshold, bits: o.bits, repeat: o.repeat,
    timedClients: timed,
    clientMs: round3(median(rows.map((x) => x.clientMs))),
    serverMs: round3(median(rows.map((x) => x.serverMs))),
    bytesUpPerClient: up,
    bytesDownPerClient: median(rows.map((x) => x.down)),
    protocolBytesUpPerClient: up - Math.ceil((o.dim * o.bits) / 8),
    expansion: { vsFloat32: round3(up / (4 * o.dim)), vsPacked: round3(up / ((o.dim * o.bits) / 8)) },
    prgLimitRatio: round3(median(rows.map((x) => x.ratio))),
    serverPrgExpansions: median(rows.map((x) => x.serverKeys)),
    serverPrgLimitRatio: round3(median(rows.map((x) => x.serverRatio))),
    aesCtrMBps: Math.round(aes / 1000),
    sumCorrect: rows.every((x) => x.ok),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
  };
}

export function register(program: Command): void {
  const bench = program.command('bench').description('protocol benchmarks');
  bench
    .command('secagg')
    .description('run real in-memory SecAgg rounds and report client/server time, bytes, expansion')
    .requiredOption('--clients <N>', 'number of clients', parsePositiveInteger)
    .requiredOption('--dim <d>', 'vector length (at most 2^28)', parseDimension)
    .option('--dropout <p>', 'fraction of clients dropping before their masked input, in [0, 1)', parseDropout, 0.1)
    .addOption(new Option('--graph <g>', 'neighbour graph').choices(['full', 'harary']).default('full'))
    .option('--bits <b>', 'modulus bits', parsePositiveInteger, 16)
    .option('--threshold <t>', 'Shamir threshold (default: n/2+1 full, finder for harary)', parsePositiveInteger)
    .option('--sample <S>', 'clients that compute every pairwise mask and are timed', parsePositiveInteger)
    .option('--repeat <R>', 'rounds (medians are reported)', parsePositiveInteger, 1)
    .option('--json', 'print one JSON object')
    .action(async (o: SecAggBenchOptions & { json?: boolean }) => {
      const r = await benchSecAgg(o);
      if (o.json) {
        printJson(r);
        return;
      }
      process.stdout.write(
        `SecAgg ${r.graph} n=${r.clients} d=${r.dim} b=${r.bits} k=${r.degree} t=${r.threshold} dropout=${r.dropout} ` +
        `(median of ${r.repeat}, ${r.timedClients} timed clients; ${r.machine.cpus}x ${r.machine.model}, Node ${r.machine.node})\n` +
        `  client   ${r.clientMs.toFixed(1)} ms   (PRG limit ratio ${r.prgLimitRatio}, AES-CTR ${r.aesCtrMBps} MB/s)\n` +
        `  server   ${r.serverMs.toFixed(1)} ms   (${r.serverPrgExpansions} PRG expansions; PRG limit ratio ${r.serverPrgLimitRatio})\n` +
        `  bytes    up ${r.bytesUpPerClient} (protocol ${r.protocolBytesUpPerClient})  down ${r.bytesDownPerClient} per client\n` +
        `  expansion ${r.expansion.vsFloat32}x vs float32, ${r.expansion.vsPacked}x vs d*b/8\n` +
        `  sum correct: ${r.sumCorrect}\n`,
      );
    });
}
