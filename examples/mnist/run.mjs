#!/usr/bin/env node
// MNIST across separate `fedveil join` processes over WebSocket, each with
// its own shard and the user model of examples/mnist, on loopback. Sets up
// the deployment path end to end: an enrolment authority, one certificate
// per client, clients with a pinned policy, `fedveil serve --app` with
// distributed DP and a ledger, and prints accuracy and wall time per round.
//
//   node examples/mnist/run.mjs [--clients 10] [--rounds 5] [--examples 6000]
//        [--hidden 200] [--layers 2] [--noise-multiplier 0.5] [--clip 1] [--no-dp] [--json]
//
// Needs `npm run build` first (it runs dist/cli/main.js).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', '..', 'dist', 'cli', 'main.js');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : argv[i + 1];
};
const clients = Number(opt('--clients', 10));
const rounds = Number(opt('--rounds', 5));
const examples = Number(opt('--examples', 6000));
const hidden = opt('--hidden', '200');
const layers = opt('--layers', '2');
const z = opt('--noise-multiplier', '0.5');
const clip = opt('--clip', '1');
const dp = !argv.includes('--no-dp');
const json = argv.includes('--json');
const dir = mkdtempSync(path.join(tmpdir(), 'fedveil-mnist-'));
const run = (args) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' }).trim();
const say = (s) => void process.stderr.write(`${s}\n`);

// The enrolment authority certifies every client's identity key.
const authority = run(['authority', 'init', '--out', path.join(dir, 'authority.json')]);
const ids = [];
for (let i = 0; i < clients; i++) {
  const identity = path.join(dir, `client-${i}.key`);
  const key = run(['join', '--identity', identity, '--print-key']);
  run(['authority', 'issue', '--key', path.join(dir, 'authority.json'), '--subject', key, '--serial', String(i + 1), '--out', path.join(dir, `client-${i}.cert.json`)]);
  ids.push(identity);
}
// The clients' policy: the defaults (active mode, certified rosters of >= 10,
// DP required with z >= 0.5), this authority pinned, a budget for the run.
const policy = path.join(dir, 'policy.json');
writeFileSync(policy, JSON.stringify({ authorities: [authority], minRoster: Math.min(10, clients), dp: { required: dp }, budget: { epsilon: 1e6 }, evaluation: true }));

const appArgs = ['--app-arg', `hidden=${hidden}`, '--app-arg', `layers=${layers}`, '--app-arg', `shards=${clients}`, '--app-arg', `examples=${examples}`];
const serveArgs = ['serve', '--port', '0', '--authority', authority, '--app', path.join(here, 'server-app.mjs'), ...appArgs, '--min-clients', String(clients),
  '--rounds', String(rounds), '--bits', dp ? '20' : '24', '--dropout', '0.1', '--stage-timeout', '600000', '--ready-timeout', '600000', '--federated-eval-every', String(rounds), '--results', path.join(dir, 'results.jsonl')];
if (dp) serveArgs.push('--noise-multiplier', z, '--clip', clip, '--ledger', path.join(dir, 'ledger.jsonl'), '--epsilon-budget', '1e6');
const t0 = Date.now();
const serve = spawn(process.execPath, [cli, ...serveArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
const url = await new Promise((resolve, reject) => {
  let buf = '';
  serve.stdout.on('data', (d) => {
    buf += d;
    const m = /listening on (\S+)/.exec(buf);
    if (m) resolve(m[1]);
  });
  serve.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
});
const log = [];
serve.stderr.on('data', (d) => {
  for (const line of String(d).split('\n')) {
    if (!line) continue;
    log.push(line);
    if (!json) say(line);
  }
});
const joins = ids.map((identity, i) => spawn(process.execPath, [cli, 'join', '--server', url, '--identity', identity, '--cert', path.join(dir, `client-${i}.cert.json`),
  '--policy', policy, '--app', path.join(here, 'client-app.mjs'), ...appArgs, '--app-arg', `shard=${i}`, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] }));
const codes = await Promise.all([serve, ...joins].map((p) => new Promise((r) => p.on('exit', (c) => r(c)))));
const seconds = (Date.now() - t0) / 1000;
if (codes.some((c) => c !== 0)) {
  say(`exit codes: ${codes.join(' ')}`);
  process.exit(1);
}
const rows = readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((r) => ({ round: r.round, accuracy: r.accuracy, survivors: r.survivors.length, seconds: r.durationMs / 1000 }));
const fed = log.map((l) => /federated evaluation ([\d.]+) over (\d+)/.exec(l)).find(Boolean);
const summary = { clients, rounds, examples, model: `${layers}x${hidden}`, dp: dp ? { noiseMultiplier: Number(z), clip: Number(clip) } : null, rows, federatedAccuracy: fed ? Number(fed[1]) : null, wallSeconds: seconds, dir };
if (json) process.stdout.write(JSON.stringify(summary) + '\n');
else {
  for (const r of rows) say(`round ${r.round}: accuracy ${r.accuracy?.toFixed(4)} (${r.survivors} clients) in ${r.seconds.toFixed(1)} s`);
  say(`federated evaluation: ${summary.federatedAccuracy}; wall ${seconds.toFixed(1)} s; files in ${dir}`);
}
