/**
 * Network benchmark: secure-aggregation rounds over WebSocket on loopback
 * with many concurrent clients (default 200 clients, d = 10^4, b = 20).
 *
 * The coordinator is a real `fedveil serve` child process (so its CPU time
 * and peak memory are its own, read from /proc); the clients are `join`-
 * equivalent participants (src/transport/participant.ts over `ws`) in this
 * process, each with its own connection, identity and random input vector.
 * Reported: rounds per minute (from the median round duration, round open
 * to result), coordinator CPU (% of one core over the rounds) and peak RSS,
 * the clients' total CPU (this process; includes connection setup), the
 * p50 / p99 of the per-client response latency of each SecAgg stage (ms
 * from the stage opening at the coordinator to that client's frame
 * arriving), and correctness: every round must have all clients as
 * survivors and the exact sum; any error or lost client fails the run.
 *
 * Settings (`--setting`, default `both`, run one after the other in the same
 * process so their ratio is measured in one run):
 * - `semi-honest`: token enrolment, semi-honest mode, development policy;
 * - `certified`: every client holds a certificate from an authority made for
 *   the run, `serve --mode active --authority`, clients on a strict policy
 *   pinning that authority (certified roster, consistency check, colluder
 *   margin g = 1).
 *
 * Usage: npx tsx bench/network.ts [--clients 200] [--dim 10000] [--bits 20]
 *        [--rounds 3] [--setting semi-honest|certified|both] [--json]
 * Linux only for the /proc measurements (reported as null elsewhere).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillRandomUint32 } from '../src/crypto/random.js';
import { ed25519KeyPair } from '../src/crypto/index.js';
import { nodeConnector } from '../src/transport/node-client.js';
import { runParticipant } from '../src/fl/participant.js';
import { secAggProtocol } from '../src/fl/secagg-protocol.js';
import { hex } from '../src/transport/session.js';
import { insecureDevelopmentPolicy, makeClientPolicy, type ClientPolicy } from '../src/fl/policy.js';
import { encodeCertificate, issueCertificate } from '../src/crypto/certificate.js';

type Setting = 'semi-honest' | 'certified';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const CLIENTS = arg('clients', 200);
const DIM = arg('dim', 10000);
const BITS = arg('bits', 20);
const ROUNDS = arg('rounds', 3);
const JSON_OUT = process.argv.includes('--json');
const SETTING_ARG = (() => {
  const i = process.argv.indexOf('--setting');
  return i > 0 ? process.argv[i + 1]! : 'both';
})();
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

/** CPU seconds (user + system) and peak RSS (bytes) of a process, from /proc. */
function procStats(pid: number): { cpuSec: number; peakRss: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuSec: ticks / 100, peakRss: hwm ? Number(hwm[1]) * 1024 : NaN };
  } catch {
    return null;
  }
}

interface ResultLine {
  round: number;
  n: number;
  survivors: string[];
  sum: number[];
  durationMs: number;
  stageMs: Array<{ stage: string; ms: number; viaDeadline: boolean }>;
  responseMs: Record<string, number[]>;
}

async function runSetting(setting: Setting): Promise<Record<string, unknown> & { errors: string[]; roundMsMedian: number }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'fedveil-bench-net-'));
  const results = path.join(tmp, 'results.jsonl');
  const authority = ed25519KeyPair();
  const certified = setting === 'certified';
  const modeArgs = certified ? ['--mode', 'active', '--colluders', '1', '--authority', hex(authority.publicKey)] : ['--mode', 'semi-honest', '--colluders', '0', '--enrol-token', 'bench'];
  const policy: ClientPolicy = certified
    ? makeClientPolicy({ authorities: [hex(authority.publicKey)], minRoster: Math.min(10, CLIENTS), minThreshold: 2, colluders: 1, minHonest: 1, dp: { required: false } })
    : insecureDevelopmentPolicy();
  const serve = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', ...modeArgs, '--min-clients', String(CLIENTS), '--rounds', String(ROUNDS), '--dim', String(DIM), '--bits', String(BITS), '--stage-timeout', '300000', '--results', results], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let serveErr = '';
  serve.stderr.on('data', (d: Buffer) => (serveErr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    serve.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    serve.on('exit', (code) => reject(new Error(`serve exited (${code}): ${serveErr}`)));
  });
  const cpuBefore = procStats(serve.pid!);

  const inputs = new Map<string, Uint32Array[]>();
  const mask = BITS === 32 ? 0xffffffff : 2 ** BITS - 1;
  const t0 = performance.now();
  const clientCpu0 = process.cpuUsage();
  const summaries = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const identity = ed25519KeyPair();
      const id = hex(identity.publicKey);
      const certificate = certified ? encodeCertificate(issueCertificate(authority.secretKey, { subject: identity.publicKey, serial: inputs.size, notBefore: 0, notAfter: 2 ** 40 })) : undefined;
      return runParticipant({ policy,
        channel: await nodeConnector(url)(),
        identity,
        protocol: secAggProtocol,
        ...(certificate ? { certificate } : { enrolToken: 'bench' }),
        input: ({ dim }) => {
          const v = new Uint32Array(dim);
          fillRandomUint32(v);
          for (let i = 0; i < dim; i++) v[i] = v[i]! & mask;
          inputs.set(id, [...(inputs.get(id) ?? []), v]);
          return v;
        },
      });
    }),
  );
  const wallMs = performance.now() - t0;
  const clientCpu = process.cpuUsage(clientCpu0);
  const clientsCpuSec = (clientCpu.user + clientCpu.system) / 1e6;
  // Measure before the coordinator exits (it leaves right after `bye`).
  const cpuAfter = procStats(serve.pid!);
  const exitCode = await new Promise<number | null>((resolve) => (serve.exitCode !== null ? resolve(serve.exitCode) : serve.on('exit', (c) => resolve(c))));
  const lines = existsSync(results) ? readFileSync(results, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ResultLine) : [];
  rmSync(tmp, { recursive: true, force: true });

  const errors: string[] = [];
  if (exitCode !== 0) errors.push(`coordinator exit code ${exitCode}`);
  if (lines.length !== ROUNDS) errors.push(`${lines.length} rounds completed, ${ROUNDS} planned`);
  const lost = summaries.filter((s) => s.roundsCompleted !== ROUNDS).length;
  if (lost > 0) errors.push(`${lost} clients did not complete every round`);
  lines.forEach((r, k) => {
    if (r.survivors.length !== CLIENTS) errors.push(`round ${r.round}: ${r.survivors.length}/${CLIENTS} survivors`);
    const want = new Uint32Array(DIM);
    for (const id of r.survivors) {
      const v = inputs.get(id)?.[k];
      if (!v) continue;
      for (let i = 0; i < DIM; i++) want[i] = (want[i]! + v[i]!) & mask;
    }
    if (r.sum.some((x, i) => x !== want[i])) errors.push(`round ${r.round}: wrong sum`);
    if (r.stageMs.some((s) => s.viaDeadline)) errors.push(`round ${r.round}: a stage ended by deadline (a client was late)`);
  });

  const stages = [...new Set(lines.flatMap((r) => Object.keys(r.responseMs)))];
  const latency = Object.fromEntries(
    stages.map((st) => {
      const all = lines.flatMap((r) => r.responseMs[st] ?? []).sort((a, b) => a - b);
      return [st, { p50: quantile(all, 0.5), p99: quantile(all, 0.99), samples: all.length }];
    }),
  );
  const stageDuration = Object.fromEntries(stages.map((st) => [st, median(lines.map((r) => r.stageMs.find((s) => s.stage === st)?.ms ?? NaN))]));
  const roundMs = median(lines.map((r) => r.durationMs));
  const roundsWallMs = lines.reduce((a, r) => a + r.durationMs, 0);
  const cpuSec = cpuBefore && cpuAfter ? cpuAfter.cpuSec - cpuBefore.cpuSec : null;
  const report = {
    bench: 'network',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '?', node: process.version, platform: `${os.platform()} ${os.release()}`, loadavg: os.loadavg().map((x) => Number(x.toFixed(2))) },
    setting,
    params: { clients: CLIENTS, dim: DIM, bits: BITS, rounds: ROUNDS, graph: secAggProtocol.chooseParams(CLIENTS, 0.1, certified ? 1 : 0, certified ? 'active' : 'semi-honest') },
    roundMsMedian: roundMs,
    roundsPerMinute: 60000 / roundMs,
    wallMsIncludingConnect: Math.round(wallMs),
    coordinator: {
      cpuSeconds: cpuSec,
      cpuPercentOfOneCoreDuringRounds: cpuSec === null ? null : (100 * cpuSec) / (roundsWallMs / 1000),
      peakRssMiB: cpuAfter ? Number((cpuAfter.peakRss / 2 ** 20).toFixed(1)) : null,
    },
    clients: { cpuSecondsAll: Number(clientsCpuSec.toFixed(2)), cpuMsPerClientRound: Number(((1000 * clientsCpuSec) / (CLIENTS * ROUNDS)).toFixed(1)) },
    coordinatorToClientsCpuRatio: cpuSec === null ? null : Number((cpuSec / clientsCpuSec).toFixed(4)),
    stageDurationMsMedian: stageDuration,
    stageResponseLatencyMs: latency,
    errors,
  };
  if (!JSON_OUT) {
    const m = report.machine;
    console.log(`fedveil network bench [${setting}]: ${CLIENTS} clients, d=${DIM}, b=${BITS}, ${ROUNDS} rounds (${report.params.graph.graph} k=${report.params.graph.degree} t=${report.params.graph.threshold})`);
    console.log(`machine: ${m.cpus} x ${m.model}, node ${m.node}, load ${m.loadavg.join(' ')}`);
    console.log(`round (median): ${roundMs.toFixed(0)} ms -> ${report.roundsPerMinute.toFixed(1)} rounds/min`);
    console.log(`clients (all in this process): ${clientsCpuSec.toFixed(2)} CPU s = ${report.clients.cpuMsPerClientRound} CPU ms per client per round`);
    console.log(`coordinator: ${cpuSec?.toFixed(2) ?? '?'} CPU s (${report.coordinator.cpuPercentOfOneCoreDuringRounds?.toFixed(0) ?? '?'}% of one core during rounds), peak RSS ${report.coordinator.peakRssMiB ?? '?'} MiB`);
    for (const st of stages) console.log(`  ${st.padEnd(22)} stage ${String(stageDuration[st]?.toFixed(0)).padStart(6)} ms   client response p50 ${String(latency[st]!.p50).padStart(6)} ms  p99 ${String(latency[st]!.p99).padStart(6)} ms  (${latency[st]!.samples} samples)`);
    console.log(errors.length === 0 ? 'no error, no lost client, every sum exact' : `ERRORS:\n  ${errors.join('\n  ')}`);
  }
  return report;
}

async function main(): Promise<void> {
  const settings: Setting[] = SETTING_ARG === 'both' ? ['semi-honest', 'certified'] : [SETTING_ARG as Setting];
  if (!settings.every((x) => x === 'semi-honest' || x === 'certified')) throw new Error('--setting must be semi-honest, certified or both');
  const reports = [];
  for (const st of settings) reports.push(await runSetting(st));
  const ratio = reports.length === 2 ? Number((reports[1]!.roundMsMedian / reports[0]!.roundMsMedian).toFixed(3)) : null;
  if (JSON_OUT) process.stdout.write(JSON.stringify({ bench: 'network', runs: reports, certifiedOverSemiHonestRoundRatio: ratio }, null, 2) + '\n');
  else if (ratio !== null) console.log(`certified active round / semi-honest round (medians, same run): ${ratio}`);
  process.exitCode = reports.every((r) => r.errors.length === 0) ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
