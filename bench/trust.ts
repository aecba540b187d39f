/**
 * What the client's own checks cost, and what neighbour-only key
 * distribution saves.
 *
 * 1. Round check per client (src/fl/round-check.ts): policy, roster Merkle
 *    proofs and one certificate verification per share holder, on a Harary
 *    graph (SecAgg+) and on the full graph; median of `--repeat` runs, and the
 *    same client's cost without certificates (development policy) in the same
 *    run.
 * 2. With `--secagg` (and optionally `--before DIR`, a checkout of an earlier
 *    fedveil with its dependencies installed): `fedveil bench secagg` at each
 *    `--clients` value, d = `--dim`, Harary graph, 10% dropout, for this
 *    checkout and the earlier one one after the other in the same run:
 *    per-client download, client and server time.
 *
 * Usage: npx tsx bench/trust.ts [--repeat 21] [--secagg] [--clients 1000,3000]
 *        [--dim 100000] [--before /path/to/old/checkout] [--json]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519KeyPair } from '../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../src/crypto/certificate.js';
import { randomBytes } from '../src/crypto/random.js';
import { neighbourGraph } from '../src/secagg/graph.js';
import { RosterCommitment } from '../src/secagg/roster.js';
import { checkRound, type AnnouncedRound } from '../src/fl/round-check.js';
import { insecureDevelopmentPolicy, makeClientPolicy } from '../src/fl/policy.js';
import { findSecAggPlusParams } from '../src/secagg/params.js';
import { machine as machineInfo, median } from './common.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPEAT = Number(argValue('repeat') ?? 21);
const JSON_OUT = process.argv.includes('--json');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function announced(n: number, graph: 'full' | 'harary', degree: number, threshold: number, certified: boolean): { a: AnnouncedRound; identity: Uint8Array; authority: Uint8Array } {
  const authority = ed25519KeyPair();
  const keys = Array.from({ length: n }, () => ed25519KeyPair());
  const entries = keys.map((k, i) => ({
    id: i + 1, key: k.publicKey,
    certificate: certified ? encodeCertificate(issueCertificate(authority.secretKey, { subject: k.publicKey, serial: i, notBefore: 0, notAfter: 2 ** 40 })) : new Uint8Array(0),
  }));
  const roster = new RosterCommitment(entries);
  const seed = randomBytes(32);
  const g = neighbourGraph({ n, graph, degree, seed, round: 1 });
  const ids = graph === 'full' ? entries.map((e) => e.id) : g.holders(1);
  const a: AnnouncedRound = {
    round: 1, index: 1, n, threshold, minSurvivors: threshold, bits: 20, dim: 1000, graph, degree, mode: 'active', seed, stageTimeoutMs: 1000, maxFrameBytes: 1 << 20,
    roster: { root: roster.root, entries: ids.map((id) => ({ id, key: roster.entry(id).key, cert: roster.entry(id).certificate, proof: graph === 'full' ? [] : roster.proof(id).path.slice() })) },
  };
  return { a, identity: keys[0]!.publicKey, authority: authority.publicKey };
}

function timeCheck(n: number, graph: 'full' | 'harary', degree: number, threshold: number): { certifiedMs: number; uncertifiedMs: number; holders: number } {
  const c = announced(n, graph, degree, threshold, true);
  const u = announced(n, graph, degree, threshold, false);
  const strict = makeClientPolicy({ authorities: [hex(c.authority)], minRoster: 2, minThreshold: 2, colluders: 0, minHonest: 1, dp: { required: false } });
  const dev = makeClientPolicy({ ...{ mode: 'active' }, requireCertificates: false, minRoster: 2, minThreshold: 2, colluders: 0, minHonest: 1, dp: { required: false } });
  void insecureDevelopmentPolicy;
  const ctx = (x: typeof c) => ({ identity: x.identity, coordinatorSession: new Uint8Array(32), now: 1000 });
  const run = (policy: typeof strict, x: typeof c): number => {
    const t0 = performance.now();
    checkRound(policy, x.a, ctx(x));
    return performance.now() - t0;
  };
  run(strict, c);
  run(dev, u);
  const certified: number[] = [];
  const uncertified: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    certified.push(run(strict, c));
    uncertified.push(run(dev, u));
  }
  return { certifiedMs: median(certified), uncertifiedMs: median(uncertified), holders: c.a.roster.entries.length };
}

interface SecAggRow { checkout: string; n: number; clientMs: number; serverMs: number; down: number; up: number; sumCorrect: boolean }

function secaggRuns(dir: string, label: string, clients: number[], dim: number): SecAggRow[] {
  const rows: SecAggRow[] = [];
  for (const n of clients) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, 'src/cli/main.ts'), 'bench', 'secagg', '--clients', String(n), '--dim', String(dim), '--graph', 'harary', '--dropout', '0.1', '--json'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`${label} bench secagg n=${n} failed: ${r.stderr.trim().split('\n').pop()}`);
    const o = JSON.parse(r.stdout) as { clientMs: number; serverMs: number; bytesDownPerClient: number; bytesUpPerClient: number; sumCorrect: boolean };
    const down = o.bytesDownPerClient;
    const up = o.bytesUpPerClient;
    rows.push({ checkout: label, n, clientMs: o.clientMs, serverMs: o.serverMs, down, up, sumCorrect: o.sumCorrect });
    if (!JSON_OUT) console.log(`  ${label.padEnd(7)} n=${String(n).padStart(6)}: client ${o.clientMs.toFixed(1)} ms, server ${(o.serverMs / 1000).toFixed(2)} s, down ${down} B/client, up ${up} B/client, sum ${o.sumCorrect ? 'correct' : 'WRONG'}`);
  }
  return rows;
}

function main(): void {
  const machine = machineInfo();
  if (!JSON_OUT) console.log(`fedveil trust bench: ${machine.cores} x ${machine.cpu}, node ${machine.node}, load ${machine.loadAverage1m}`);
  const checks = [
    { n: 1000, ...findSecAggPlusParams({ clients: 1000, dropout: 0.1, corrupt: 0.05, adversary: 'semi-malicious' }) },
    { n: 10000, ...findSecAggPlusParams({ clients: 10000, dropout: 0.1, corrupt: 0.05, adversary: 'semi-malicious' }) },
    { n: 100, graph: 'full' as const, degree: 99, threshold: 51 },
  ].map((p) => {
    const r = timeCheck(p.n, p.graph, p.degree, p.threshold);
    if (!JSON_OUT) console.log(`round check, n=${p.n} ${p.graph} (k=${p.degree}, t=${p.threshold}, ${r.holders} entries): certified ${r.certifiedMs.toFixed(2)} ms, without certificates ${r.uncertifiedMs.toFixed(2)} ms (median of ${REPEAT})`);
    return { n: p.n, graph: p.graph, degree: p.degree, threshold: p.threshold, ...r };
  });
  let secagg: SecAggRow[] = [];
  if (process.argv.includes('--secagg')) {
    const clients = (argValue('clients') ?? '1000,3000').split(',').map(Number);
    const dim = Number(argValue('dim') ?? 100000);
    const before = argValue('before');
    if (!JSON_OUT) console.log(`fedveil bench secagg, d=${dim}, harary, 10% dropout:`);
    secagg = secaggRuns(ROOT, 'now', clients, dim);
    if (before) secagg.push(...secaggRuns(path.resolve(before), 'before', clients, dim));
  }
  if (JSON_OUT) process.stdout.write(JSON.stringify({ bench: 'trust', machine, repeat: REPEAT, roundCheck: checks, secagg }, null, 2) + '\n');
}

main();
