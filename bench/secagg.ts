/**
 * Secure-aggregation benchmark: the two target settings below, each a
 * real in-memory SecAgg round (src/cli/bench.ts `benchSecAgg`, the same
 * code as `fedveil bench secagg`), reporting medians of client time, server
 * time, bytes per client, expansion and the PRG-limit ratio, plus whether
 * the unmasked sum is exact.
 *
 * Targets (2 cores): full graph n=500 d=100K 10% dropout: client <= 0.3 s,
 * server <= 10 s; Harary n=1000 d=100K 10% dropout: client <= 0.1 s,
 * server <= 5 s.
 *
 * Run: npx tsx bench/secagg.ts [--json] [--repeat R] [--quick]
 * (--quick: n=100/200, d=10K, for a smoke run)
 */
import os from 'node:os';
import { benchSecAgg, type SecAggBenchResult } from '../src/cli/bench.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const repeatAt = args.indexOf('--repeat');
const repeat = repeatAt >= 0 ? Number(args[repeatAt + 1]) : 1;

const settings = [
  { name: 'full', clients: quick ? 100 : 500, dim: quick ? 10_000 : 100_000, graph: 'full' as const, targets: { clientMs: 300, serverMs: 10_000 } },
  { name: 'harary', clients: quick ? 200 : 1000, dim: quick ? 10_000 : 100_000, graph: 'harary' as const, targets: { clientMs: 100, serverMs: 5_000 } },
];

const results: (SecAggBenchResult & { name: string; targets: { clientMs: number; serverMs: number } })[] = [];
for (const s of settings) {
  const r = await benchSecAgg({ clients: s.clients, dim: s.dim, dropout: 0.1, graph: s.graph, bits: 16, repeat });
  results.push({ name: s.name, targets: s.targets, ...r });
  if (!json) {
    process.stdout.write(
      `${s.name.padEnd(7)} n=${r.clients} d=${r.dim} k=${r.degree} t=${r.threshold}: client ${r.clientMs.toFixed(1)} ms (target ${s.targets.clientMs}), ` +
      `server ${r.serverMs.toFixed(0)} ms (target ${s.targets.serverMs}), up ${r.bytesUpPerClient} B, down ${r.bytesDownPerClient} B, ` +
      `expansion ${r.expansion.vsPacked}x of d*b/8, prgLimitRatio ${r.prgLimitRatio} (server ${r.serverPrgLimitRatio}, ${r.serverPrgExpansions} expansions), AES-CTR ${r.aesCtrMBps} MB/s, sum ${r.sumCorrect ? 'correct' : 'WRONG'}\n`,
    );
  }
}
const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: os.loadavg() };
if (json) process.stdout.write(JSON.stringify({ machine, results }) + '\n');
else process.stdout.write(`machine: ${machine.cpus}x ${machine.model}, Node ${machine.node}, load ${machine.loadavg.map((x) => x.toFixed(1)).join(' ')}\n`);
