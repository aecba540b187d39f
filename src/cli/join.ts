/**
 * `fedveil join --server URL`: a Node client that authenticates with its
 * Ed25519 identity and takes part in secure-aggregation rounds until the
 * coordinator says `bye` (docs/network.md), enforcing its pinned privacy
 * policy on every round (docs/trust.md): `--policy FILE` and/or
 * `--authority HEX` (the default policy requires certified rosters, so
 * without an authority it refuses to start), `--cert` for its own
 * certificate, and its own privacy ledger (`--client-ledger`, default
 * `<identity>.privacy.jsonl`). A policy violation ends it with one line and
 * exit 1 (`--keep-waiting`: skip the round instead).
 *
 * It stays: a lost connection (a coordinator restart, an idle or flood-guard
 * close, an aborted round) is followed by a reconnect with exponential
 * backoff and full jitter (`--reconnect-initial`, `--reconnect-max`;
 * `--no-reconnect`: end with exit 1 instead), fl/reconnect.ts and
 * docs/network.md "Clients that stay". SIGINT / SIGTERM end it with exit 130.
 *
 * Input per round, as the coordinator's round task asks:
 * - `train` (serve --model): train the round's tfjs model from the global
 *   weights on this client's local data - `--data FILE` (JSON
 *   `{ "xs": number[][], "labels": number[] }`) or, by default, synthetic
 *   points of the model's task - and send the encoded update;
 * - `vector`: `--data FILE` (a JSON array of integers, reduced mod 2^b and
 *   padded/truncated to d) or a uniformly random vector from the CSPRNG (I7).
 *
 * Test hook (never for production): with FEDVEIL_REVEAL_DIR set, the client
 * writes its plain input of each round to
 * `$FEDVEIL_REVEAL_DIR/<round>-<publicKeyHex>.json` so that a test can
 * check the aggregate against the plain sum. FEDVEIL_TEST_STALL=MaskedInput
 * (or MaskedInput@R for round R only) makes the client stop right before
 * sending its masked input (to test dropouts deterministically).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CliExit, EXIT_CODES, parsePositiveInteger, printJson } from './common.js';
import { fillRandomUint32 } from '../crypto/random.js';
import { ed25519KeyPair } from '../crypto/index.js';
import { loadOrCreateIdentity, nodeConnector } from '../transport/node-client.js';
import type { RoundInfo } from '../fl/participant.js';
import { Backoff, startReconnectingParticipant } from '../fl/reconnect.js';
import { hex } from '../transport/session.js';
import type { LabelledData } from '../fl/mnist.js';

interface JoinOptions {
  server?: string;
  identity?: string;
  policy?: string;
  authority?: string[];
  cert?: string;
  insecureDevPolicy?: boolean;
  keepWaiting?: boolean;
  clientLedger?: string;
  printKey?: boolean;
  enrolToken?: string;
  data?: string;
  app?: string;
  appArg?: string[];
  ca?: string;
  json?: boolean;
  quiet?: boolean;
  reconnect: boolean;
  reconnectInitial?: number;
  reconnectMax?: number;
}

export function register(program: Command): void {
  program
    .command('join')
    .description('join a coordinator (fedveil serve) and take part in rounds until it says bye, enforcing this client\'s privacy policy')
    .option('--server <url>', 'coordinator URL, ws://host:port/ or wss://host:port/')
    .option('--identity <file>', 'Ed25519 identity file (created, mode 0600, if missing; default: a fresh identity per run)')
    .option('--print-key', 'print this identity\'s public key (hex) for the enrolment authority to certify, and exit')
    .option('--policy <file>', 'client privacy policy (JSON; see docs/trust.md); default: the strict default policy')
    .option('--authority <hex>', 'pin an enrolment authority public key (added to the policy; repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--cert <file>', 'this client\'s certificate from the enrolment authority (fedveil authority issue)')
    .option('--client-ledger <file>', 'this client\'s own privacy ledger (default: <identity>.privacy.jsonl with --identity)')
    .option('--keep-waiting', 'on a policy violation, send nothing for that round and wait for the next one (default: exit non-zero)')
    .option('--insecure-dev-policy', 'DEVELOPMENT ONLY: accept semi-honest, uncertified, token-enrolled rosters of 2 and rounds without DP')
    .option('--enrol-token <token>', 'shared enrolment token (registers this identity)')
    .option('--app <file>', 'client app module (ES module exporting model(), data(), optionally evaluationData() and training): the user\'s tfjs model and local data, checked before connecting; see docs/apps.md')
    .option('--app-arg <key=value>', 'argument passed to the app module as ctx.args (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--data <file>', 'local data: { xs, labels } JSON for training rounds, or an integer array for vector rounds (default: synthetic)')
    .option('--ca <file>', 'extra CA certificate (PEM) to trust for wss://')
    .option('--no-reconnect', 'end (exit 1) when the connection is lost instead of reconnecting')
    .option('--reconnect-initial <ms>', 'reconnect backoff: cap of the first retry\'s random delay (doubles per failed attempt; default 1000)', parsePositiveInteger)
    .option('--reconnect-max <ms>', 'reconnect backoff: largest cap of the random delay (default 30000)', parsePositiveInteger)
    .option('--quiet', 'no progress lines on stderr')
    .option('--json', 'print one JSON summary object on stdout when done')
    .action(async (opts: JoinOptions) => join(opts));
}

async function loadData(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new CliExit(2, `join: cannot read --data ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function asVector(parsed: unknown, file: string): number[] {
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) throw new CliExit(2, `join: --data ${file} must be a JSON array of integers for a vector round`);
  return parsed as number[];
}

function asLabelled(parsed: unknown, file: string): LabelledData {
  const o = parsed as { xs?: unknown; labels?: unknown };
  if (!o || !Array.isArray(o.xs) || !Array.isArray(o.labels) || o.xs.length !== o.labels.length || o.xs.length === 0) throw new CliExit(2, `join: --data ${file} must be { "xs": number[][], "labels": number[] } for a training round`);
  const features = (o.xs[0] as unknown[]).length;
  const xs = new Float32Array(o.xs.length * features);
  o.xs.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== features || !row.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new CliExit(2, `join: --data ${file}: row ${i} is not ${features} finite numbers`);
    xs.set(row as number[], i * features);
  });
  const labels = Uint8Array.from(o.labels as number[]);
  const classes = Math.max(...labels) + 1;
  return { xs, labels, features, classes: Math.max(2, classes), n: labels.length };
}

async function loadJson(what: string, file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new CliExit(2, `join: cannot read ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function join(opts: JoinOptions): Promise<void> {
  if (opts.printKey) {
    if (!opts.identity) throw new CliExit(2, 'join --print-key needs --identity <file> (the key to be certified must persist)');
    process.stdout.write(`${hex((await loadOrCreateIdentity(opts.identity)).publicKey)}\n`);
    return;
  }
  if (!opts.server) throw new CliExit(2, 'join: --server <url> is required');
  if (!/^wss?:\/\//.test(opts.server)) throw new CliExit(2, `join: --server must be a ws:// or wss:// URL, got ${opts.server}`);
  if (opts.insecureDevPolicy && (opts.policy || opts.authority)) throw new CliExit(2, 'join: --insecure-dev-policy cannot be combined with --policy or --authority');
  const { makeClientPolicy, insecureDevelopmentPolicy, parseCertificate } = await import('../fl/policy.js');
  let policy;
  try {
    if (opts.insecureDevPolicy) policy = insecureDevelopmentPolicy();
    else {
      const base = (opts.policy ? await loadJson('--policy', opts.policy) : {}) as Record<string, unknown>;
      if (typeof base !== 'object' || base === null || Array.isArray(base)) throw new CliExit(2, `join: --policy ${opts.policy}: expected a JSON object`);
      const authorities = [...((base.authorities as unknown[] | undefined) ?? []), ...(opts.authority ?? [])];
      policy = makeClientPolicy({ ...base, ...(authorities.length > 0 ? { authorities } : {}) });
    }
  } catch (err) {
    if (err instanceof CliExit) throw err;
    throw new CliExit(2, `join: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (policy.requireCertificates && policy.authorities.length === 0) {
    throw new CliExit(2, 'join: the policy requires certified rosters but pins no enrolment authority: give --authority <hex> or a --policy file (development: --insecure-dev-policy)');
  }
  let certificate: Uint8Array | undefined;
  if (opts.cert) {
    try {
      const { encodeCertificate } = await import('../crypto/certificate.js');
      certificate = encodeCertificate(parseCertificate(await loadJson('--cert', opts.cert)));
    } catch (err) {
      if (err instanceof CliExit) throw err;
      throw new CliExit(2, `join: --cert ${opts.cert}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const identity = opts.identity ? await loadOrCreateIdentity(opts.identity) : ed25519KeyPair();
  const ledgerFile = opts.clientLedger ?? (opts.identity ? `${opts.identity}.privacy.jsonl` : undefined);
  const { ClientPrivacyLedger } = await import('../dp/client-ledger.js');
  const store = ledgerFile
    ? (await import('../dp/client-ledger-node.js')).fileClientLedgerStore(ledgerFile)
    : (await import('../dp/client-ledger.js')).memoryClientLedgerStore();
  const ledger = await ClientPrivacyLedger.open(store, { signingKey: identity.secretKey, budget: { epsilon: policy.budget.epsilon, delta: policy.budget.delta }, maxParticipations: policy.budget.maxParticipations });
  const data = opts.data ? await loadData(opts.data) : undefined;
  const revealDir = process.env.FEDVEIL_REVEAL_DIR;
  const stallBefore = process.env.FEDVEIL_TEST_STALL;
  const idHex = hex(identity.publicKey);
  let currentRound = 0;
  const log = (line: string): void => {
    if (!opts.quiet) process.stderr.write(`fedveil join ${idHex.slice(0, 8)}: ${line}\n`);
  };

  let train: ((info: RoundInfo) => Promise<Uint32Array>) | undefined;
  if (opts.app) {
    if (opts.data) throw new CliExit(2, 'join: --app and --data exclude each other (the app loads its own data)');
    // The app's model is built and its data checked against it now, before connecting (DataMismatch: exit 2).
    const { loadClientAppModule } = await import('../fl/app-module.js');
    const { prepareClientApp } = await import('../fl/client-app.js');
    const { prepareBackend } = await import('../fl/training.js');
    log(`tfjs backend ${await prepareBackend()}`);
    const appArgs: Record<string, string> = {};
    for (const p of opts.appArg ?? []) {
      const i = p.indexOf('=');
      if (i < 1) throw new CliExit(2, `join: --app-arg expects key=value, got ${JSON.stringify(p)}`);
      appArgs[p.slice(0, i)] = p.slice(i + 1);
    }
    let prepared;
    try {
      const mod = await loadClientAppModule(opts.app, appArgs);
      prepared = await prepareClientApp({
        model: mod.model, data: mod.data, ...(mod.evaluationData ? { evaluationData: mod.evaluationData } : {}), ...(mod.training ? { training: mod.training } : {}),
        onTrained: (r) => log(`round ${r.round}: trained on ${r.examples} local examples, loss ${r.loss.toFixed(4)}`),
      });
    } catch (err) {
      throw new CliExit(2, `join: --app ${opts.app}: ${err instanceof Error ? err.message : String(err)}`);
    }
    log(`app ${opts.app}: model ${prepared.signature} (${prepared.dim} parameters), ${prepared.data.n} training examples${prepared.evaluationData ? `, ${prepared.evaluationData.n} held-out` : ''}`);
    train = (info) => prepared.input(info);
  }
  const input = async (info: RoundInfo): Promise<Uint32Array> => {
    let v: Uint32Array = new Uint32Array(info.dim);
    if (opts.app && train) {
      v = await train(info);
    } else if (info.task.kind === 'train') {
      if (!train) {
        // tfjs is loaded only when a coordinator asks for training.
        const { trainingInput, prepareBackend } = await import('../fl/training.js');
        log(`tfjs backend ${await prepareBackend()}`);
        train = trainingInput({ ...(data !== undefined ? { data: asLabelled(data, opts.data!) } : {}), onTrained: (r) => log(`round ${r.round}: trained on ${r.examples} local examples, loss ${r.loss.toFixed(4)}`) });
      }
      v = await train(info);
    } else if (data !== undefined) {
      const vector = asVector(data, opts.data!);
      const mod = 2 ** info.bits;
      for (let i = 0; i < info.dim; i++) v[i] = (((vector[i] ?? 0) % mod) + mod) % mod;
    } else {
      fillRandomUint32(v);
      if (info.bits < 32) for (let i = 0; i < v.length; i++) v[i] = v[i]! & (2 ** info.bits - 1);
    }
    if (revealDir) await fs.writeFile(path.join(revealDir, `${info.round}-${idHex}.json`), JSON.stringify(Array.from(v)));
    return v;
  };

  const { secAggProtocol } = await import('../fl/secagg-protocol.js');
  const connect = nodeConnector(opts.server, opts.ca ? { ca: await fs.readFile(opts.ca) } : {});
  const backoff = { ...(opts.reconnectInitial !== undefined ? { initialMs: opts.reconnectInitial } : {}), ...(opts.reconnectMax !== undefined ? { maxMs: opts.reconnectMax } : {}) };
  try {
    new Backoff(backoff);
  } catch (err) {
    throw new CliExit(2, `join: --reconnect-initial / --reconnect-max: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!ledgerFile) log('no --identity: this run\'s privacy ledger is kept in memory only');
  const spent = ledger.privacySpent();
  log(`privacy spent so far against the coordinator: epsilon ${spent.epsilon.toFixed(4)} of ${policy.budget.epsilon} at delta ${policy.budget.delta} (${spent.participations} participations)`);
  const run = startReconnectingParticipant({
    connect,
    reconnect: opts.reconnect,
    backoff,
    onReconnect: (ev) => log(`${ev.reason}; reconnecting in ${ev.delayMs} ms (attempt ${ev.attempt})`),
    identity,
    protocol: secAggProtocol,
    policy,
    ledger,
    ...(certificate ? { certificate } : {}),
    ...(opts.keepWaiting ? { keepWaiting: true } : {}),
    input,
    ...(opts.enrolToken ? { enrolToken: opts.enrolToken } : {}),
    agent: `fedveil-node/${process.version}`,
    ...(stallBefore ? { beforeSend: (type: string) => (`${type}@${currentRound}` === stallBefore || type === stallBefore ? (log(`test hook: stalling before ${type} in round ${currentRound}`), new Promise<void>(() => undefined)) : undefined) } : {}),
    onEvent: (ev) => {
      if (ev.type === 'welcome') log('authenticated');
      else if (ev.type === 'round-start') {
        currentRound = ev.round;
        log(`round ${ev.round} started as client ${ev.index} of ${ev.n}`);
      }
      else if (ev.type === 'input-sent') log(`round ${ev.round}: masked input sent`);
      else if (ev.type === 'refused') log(`round ${ev.round}: refused, nothing sent: ${ev.message}`);
      else if (ev.type === 'privacy-spent') log(`round ${ev.round}: privacy spent against the coordinator (no sampling amplification): epsilon ${ev.epsilon.toFixed(4)} of ${ev.budget} at delta ${ev.delta} after ${ev.participations} participations`);
      else if (ev.type === 'round-end') log(`round ${ev.round} ${ev.ok ? (ev.included ? 'completed' : 'completed without this client (dropped)') : `aborted: ${ev.reason}`} (${ev.survivors} survivors)`);
    },
  });
  let signalled: string | undefined;
  const onSignal = (sig: string): void => {
    signalled ??= sig;
    log(`${sig}: leaving`);
    run.stop();
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  const summary = await run.done.finally(() => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  });
  if (summary.stopped) log(`stopped (${signalled ?? 'stop'}): ${summary.roundsCompleted} rounds completed`);
  else log(`done: ${summary.roundsCompleted} rounds completed (coordinator: ${summary.reason})`);
  if (opts.json) printJson(summary);
  if (summary.stopped) process.exitCode = EXIT_CODES.INTERRUPTED;
}
