/**
 * `fedveil serve`: a secure-aggregation coordinator over WebSocket
 * (docs/network.md). Admits clients (certificates of an enrolment authority,
 * a file of Ed25519 public keys, or a shared enrolment token for
 * development), opens rounds once `--min-clients` are connected,
 * drives SecAgg with per-stage deadlines, and serves the status page
 * (`GET /`), JSON status (`GET /status`) and, with `--demo`, the browser
 * client (`GET /demo/`). See docs/network.md.
 */
import { promises as fs, createWriteStream, existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { RevokedSerials } from '../crypto/certificate.js';
import { CliExit, parseInteger, parseNumber, parsePositiveInteger, parseProbability, parseDropout, parseDimension } from './common.js';
import { parseModelSpec } from '../fl/training-codec.js';
import type { PrivacyLedger } from '../dp/ledger.js';
import { RoundCoordinator, type CoordinatorEvent, type CoordinatorStatus, type RoundRecord } from '../fl/round-coordinator.js';
import { WebSocketServerTransport } from '../transport/ws-server.js';
import { loadEnrolledKeys } from '../transport/node-client.js';
import { formatCoordinatorEpsilon, formatLedgerEpsilon, renderStatusPage, type PrivacyStatus } from '../fl/status-page.js';

interface ServeOptions {
  port: number;
  host: string;
  clientsFile?: string;
  enrolToken?: string;
  minClients: number;
  maxClients: number;
  rounds?: number;
  dim: number;
  bits: number;
  stageTimeout: number;
  dropout: number;
  mode: 'semi-honest' | 'active';
  authority?: string[];
  revocations?: string;
  newLedger?: boolean;
  colluders: number;
  cert?: string;
  key?: string;
  demo?: boolean;
  results?: string;
  model?: string;
  app?: string;
  appArg?: string[];
  sampleRate?: number;
  population?: number;
  checkpoint?: string;
  resume?: boolean;
  federatedEvalEvery?: number;
  adaptiveClip?: number;
  countStddev?: number;
  range: number;
  noiseMultiplier?: number;
  clip: number;
  mechanism: 'ddg' | 'skellam';
  ledger?: string;
  ledgerKey?: string;
  delta: number;
  epsilonBudget: number;
  maxPayload: number;
  rate?: number;
  pingRate: number;
  maxPreAuthFrames: number;
  maxConnections: number;
  maxUnauthPerAddress: number;
  framesPerRound: number;
  readyTimeout: number;
  readyWait: number;
  maxTokenEnrolments: number;
  idleTimeout: number;
  authTimeout: number;
  json?: boolean;
}

const MIME: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css', '.map': 'application/json' };

/** Where the browser bundle and demo page live (dist/browser, built by scripts/build-browser.mjs). */
function demoDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..', 'browser'), path.join(here, '..', '..', 'dist', 'browser')];
  return candidates.find((d) => existsSync(path.join(d, 'fedveil-client.js')) && existsSync(path.join(d, 'index.html')));
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run a secure-aggregation coordinator over WebSocket (status page on GET /)')
    .option('--port <n>', 'TCP port (0 = any free port)', parseInteger, 8080)
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--clients-file <file>', 'JSON array of enrolled Ed25519 public keys (hex)')
    .option('--enrol-token <token>', 'shared enrolment token: a client presenting it registers its key')
    .option('--min-clients <n>', 'clients needed to open a round', parsePositiveInteger, 3)
    .option('--max-clients <n>', 'largest roster per round', parsePositiveInteger, 10000)
    .option('--rounds <n>', 'rounds to run, then tell clients to leave (default: unbounded)', parsePositiveInteger)
    .option('--dim <d>', 'vector length (at most 2^28)', parseDimension, 1000)
    .option('--bits <b>', 'modulus bits (sum mod 2^b)', parsePositiveInteger, 20)
    .option('--stage-timeout <ms>', 'per-stage deadline; silent clients become dropouts', parsePositiveInteger, 30000)
    .option('--mode <m>', 'SecAgg server model: active (signed keys + ConsistencyCheck with the clients\' identities; what client policies require by default) or semi-honest (development)', 'active')
    .option('--authority <hex>', 'admit only clients with a valid certificate from this enrolment authority (repeatable); clients whose policy requires certificates refuse rosters with uncertified members', (v: string, prev: string[] = []) => [...prev, v])
    .option('--revocations <file>', 'revocation list of the authority (fedveil authority revoke): revoked clients are refused')
    .option('--colluders <g>', 'colluding clients the clients\' policies tolerate: thresholds satisfy 2t > k + 1 + g, noise is calibrated to t - g', parseInteger, 1)
    .option('--dropout <p>', 'dropout fraction the SecAgg+ parameters tolerate, in [0, 1)', parseDropout, 0.1)
    .option('--cert <file>', 'TLS certificate (PEM): serve wss:// and https://')
    .option('--key <file>', 'TLS private key (PEM)')
    .option('--app <file>', 'federated training of a server app module (ES module exporting model(), and optionally evaluate(), strategy, options): see docs/apps.md')
    .option('--app-arg <key=value>', 'argument passed to the app module as ctx.args (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--model <spec>', 'federated training of a built-in model on synthetic data: softmax:F:C or mlp:F:H:C (sets --dim to its parameter count)')
    .option('--sample-rate <q>', 'with --app/--model: Poisson sampling of the ready pool at rate q per round (default: every ready client)', parseProbability)
    .option('--population <n>', 'with --sample-rate: ready clients to wait for before sampling (default --min-clients)', parsePositiveInteger)
    .option('--federated-eval-every <k>', 'with --app/--model: a federated-evaluation round after every k training rounds (clients whose policy allows it send counts, no DP noise)', parsePositiveInteger)
    .option('--adaptive-clip <quantile>', 'with --noise-multiplier: adaptive clipping (Andrew et al. 2021): the clip norm starts at --clip and follows this quantile of the update norms, from a noised count summed with the updates (not with --sample-rate)', parseProbability)
    .option('--count-stddev <s>', 'with --adaptive-clip: noise std of the clipped count, in clients (default: --population / 20)', parseNumber)
    .option('--checkpoint <dir>', 'with --app/--model: save the global model (tfjs format) and the strategy state here after every round (default <ledger>.checkpoint with --ledger)')
    .option('--resume', 'continue the model and strategy from the checkpoint (checked against the ledger)')
    .option('--range <r>', 'with --model: per-coordinate update range guard of the integer codec', parseNumber, 4)
    .option('--noise-multiplier <z>', 'with --model: distributed DP, central noise std z*C added in integers on the clients', parseNumber)
    .option('--clip <C>', 'with --noise-multiplier: L2 clip norm of each update', parseNumber, 1)
    .option('--mechanism <m>', 'with --noise-multiplier: ddg (discrete Gaussian) or skellam', 'ddg')
    .option('--ledger <file>', 'with --noise-multiplier: privacy ledger (JSON Lines) to append each round to; continued if it exists')
    .option('--new-ledger', 'with --ledger: start a new ledger although its key has signed one before (the spent budget is not carried over)')
    .option('--ledger-key <file>', 'ledger signing key (default <ledger>.key, created 0600 if missing)')
    .option('--delta <d>', 'delta of the ledger\'s epsilon', parseNumber, 1e-5)
    .option('--epsilon-budget <e>', 'ledger budget: a round that would exceed it is refused', parseNumber, 10)
    .option('--demo', 'serve the browser demo client on /demo/')
    .option('--results <file>', 'append each round result (survivors, sum) as JSON Lines (testing / auditing)')
    .option('--max-payload <bytes>', 'largest WebSocket message accepted', parsePositiveInteger, 64 * 1024 * 1024)
    .option('--rate <n>', 'flood guard: frames per second per connection, pings included (token bucket, burst 2x; default off: the per-round frame budget bounds honest traffic)', parsePositiveInteger)
    .option('--ping-rate <n>', 'flood guard: pings per second per connection (burst 5x)', parsePositiveInteger, 10)
    .option('--max-pre-auth-frames <n>', 'flood guard: frames a connection may send before it authenticates', parsePositiveInteger, 16)
    .option('--max-connections <n>', 'open WebSocket connections in total', parsePositiveInteger, 20000)
    .option('--max-unauth-per-address <n>', 'connections not yet authenticated per remote address', parsePositiveInteger, 1024)
    .option('--frames-per-round <n>', 'envelopes a client may send per round (an honest one sends one per SecAgg stage)', parsePositiveInteger, 10)
    .option('--ready-timeout <ms>', 'time a client has to say ready after welcome / each result; silent ones are closed and never put on a roster', parsePositiveInteger, 300000)
    .option('--ready-wait <ms>', 'after a round, how long the next one waits for the ready of the last round\'s members', parseInteger, 5000)
    .option('--max-token-enrolments <n>', 'identities the enrolment token may register', parsePositiveInteger, 1000)
    .option('--idle-timeout <ms>', 'close connections silent this long', parsePositiveInteger, 60000)
    .option('--auth-timeout <ms>', 'time a new connection has to authenticate', parsePositiveInteger, 10000)
    .option('--json', 'print one JSON summary object on stdout when done')
    .action(async (opts: ServeOptions) => serve(opts).catch(failedStart));
}

async function serve(opts: ServeOptions): Promise<void> {
  if (!opts.clientsFile && !opts.enrolToken && !opts.authority) throw new CliExit(2, 'serve: give --authority, --clients-file and/or --enrol-token (no open enrolment)');
  if (Boolean(opts.cert) !== Boolean(opts.key)) throw new CliExit(2, 'serve: --cert and --key go together');
  if (opts.bits > 32) throw new CliExit(2, 'serve: --bits must be at most 32');
  if (opts.minClients < 2) throw new CliExit(2, 'serve: --min-clients must be at least 2');
  if (opts.mode !== 'semi-honest' && opts.mode !== 'active') throw new CliExit(2, 'serve: --mode must be semi-honest or active');
  if (opts.colluders < 0) throw new CliExit(2, 'serve: --colluders must be at least 0');
  if (opts.app && opts.model) throw new CliExit(2, 'serve: --app and --model exclude each other');
  const training = Boolean(opts.app || opts.model);
  if (opts.noiseMultiplier !== undefined && !training) throw new CliExit(2, 'serve: --noise-multiplier needs --model or --app (DP applies to trained updates)');
  if (opts.ledger && opts.noiseMultiplier === undefined) throw new CliExit(2, 'serve: --ledger needs --noise-multiplier (a ledger records DP rounds)');
  if (opts.mechanism !== 'ddg' && opts.mechanism !== 'skellam') throw new CliExit(2, 'serve: --mechanism must be ddg or skellam');
  if (opts.sampleRate !== undefined && !training) throw new CliExit(2, 'serve: --sample-rate needs --model or --app');
  if (opts.adaptiveClip !== undefined && opts.noiseMultiplier === undefined) throw new CliExit(2, 'serve: --adaptive-clip needs --noise-multiplier (it tracks the DP clip norm)');
  if (opts.adaptiveClip !== undefined && opts.sampleRate !== undefined && opts.sampleRate < 1) throw new CliExit(2, 'serve: --adaptive-clip and --sample-rate exclude each other (no sound accounting for the sampled pair of releases)');
  if (opts.resume && !opts.checkpoint && !opts.ledger) throw new CliExit(2, 'serve: --resume needs --checkpoint (or --ledger, whose checkpoint sits next to it)');
  const authorities = (opts.authority ?? []).map((a) => {
    if (!/^[0-9a-fA-F]{64}$/.test(a)) throw new CliExit(2, `serve: --authority expects a 32-byte Ed25519 public key in hex, got ${a.slice(0, 70)}`);
    return Uint8Array.from(Buffer.from(a, 'hex'));
  });
  const appArgs = parseAppArgs(opts.appArg ?? []);
  const revoked = opts.revocations ? await loadRevocations(opts.revocations, authorities) : undefined;
  // The app (a user module, or the built-in synthetic task of a --model spec): loaded before anything is created.
  let app: import('../fl/app-module.js').ServerAppModule | undefined;
  if (opts.app) {
    const { loadServerAppModule } = await import('../fl/app-module.js');
    app = await loadServerAppModule(opts.app, appArgs);
  } else if (opts.model) {
    const { syntheticServerApp } = await import('../fl/training.js');
    app = syntheticServerApp(parseModelSpec(opts.model));
  }
  if (app) {
    const { prepareBackend } = await import('../fl/training.js');
    process.stderr.write(`fedveil serve: tfjs backend ${await prepareBackend()}\n`);
  }
  await assertCanListen(opts.host, opts.port);
  const ledger = opts.ledger ? await openLedger(opts.ledger, opts.ledgerKey ?? `${opts.ledger}.key`, opts) : undefined;
  const enrolled = opts.clientsFile ? await loadEnrolledKeys(opts.clientsFile) : new Set<string>();
  const tls = opts.cert && opts.key ? { cert: await fs.readFile(opts.cert), key: await fs.readFile(opts.key) } : undefined;
  const results = opts.results ? createWriteStream(opts.results, { flags: 'a' }) : undefined;
  const dir = opts.demo ? demoDir() : undefined;
  if (opts.demo && !dir) throw new CliExit(2, 'serve --demo: browser bundle not found; run `node scripts/build-browser.mjs` first');

  let statusOf: (() => CoordinatorStatus | undefined) = () => undefined;
  // Both guarantees: the ledger's figure (every round composed, with its guarantee) and, per client, against the coordinator.
  const privacy = (): PrivacyStatus => (ledger
    ? { epsilon: ledger.epsilon, budget: ledger.budget, delta: ledger.header.delta, ledgerRounds: ledger.rounds, guarantee: ledger.guarantee, againstCoordinator: ledger.againstCoordinator() }
    : { epsilon: null, budget: null, delta: null, ledgerRounds: null, guarantee: null, againstCoordinator: null });
  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const status = statusOf();
    if (req.method !== 'GET' || !status) return false;
    const url = new URL(req.url ?? '/', 'http://x');
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (url.pathname === '/') {
      res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' });
      res.end(renderStatusPage(status, privacy(), { demo: Boolean(dir) }));
      return true;
    }
    if (url.pathname === '/status') {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...status, privacy: privacy() }) + '\n');
      return true;
    }
    if (dir && (url.pathname === '/demo' || url.pathname.startsWith('/demo/'))) {
      const rel = url.pathname === '/demo' || url.pathname === '/demo/' ? 'index.html' : url.pathname.slice('/demo/'.length);
      // Only plain file names inside the bundle directory: no traversal.
      if (!/^[A-Za-z0-9._-]+$/.test(rel) || rel.startsWith('.')) return false;
      try {
        const body = await fs.readFile(path.join(dir, rel));
        res.writeHead(200, { ...headers, 'content-type': MIME[path.extname(rel)] ?? 'application/octet-stream' });
        res.end(body);
        return true;
      } catch {
        return false;
      }
    }
    return false;
  };

  const transport = new WebSocketServerTransport({
    host: opts.host,
    port: opts.port,
    ...(tls ? { tls } : {}),
    maxPayload: opts.maxPayload,
    ...(opts.rate !== undefined ? { messagesPerSecond: opts.rate, burst: opts.rate * 2 } : {}),
    pingsPerSecond: opts.pingRate,
    pingBurst: opts.pingRate * 5,
    maxPreAuthFrames: opts.maxPreAuthFrames,
    maxConnections: opts.maxConnections,
    maxUnauthenticatedPerAddress: opts.maxUnauthPerAddress,
    idleTimeoutMs: opts.idleTimeout,
    onRequest,
  });
  const log = (line: string): void => void process.stderr.write(`fedveil serve: ${line}\n`);
  const writeResult = async (line: Record<string, unknown>): Promise<void> => {
    if (!results) return;
    await new Promise<void>((resolve, reject) => results.write(JSON.stringify(line) + '\n', (e) => (e ? reject(e) : resolve())));
  };
  const resultLine = (record: RoundRecord, accuracy: number | null) => ({
    round: record.round, accuracy, n: record.n, threshold: record.threshold, survivors: record.survivors, roster: record.roster,
    sum: Array.from(record.sum), durationMs: record.durationMs, stageMs: record.stageMs, responseMs: record.responseMs,
  });
  const enrolment = {
    enrolled,
    ...(opts.enrolToken ? { token: opts.enrolToken } : {}),
    onEnrol: (id: string) => log(`enrolled ${id.slice(0, 16)}... with the token`),
    maxTokenEnrolments: opts.maxTokenEnrolments,
  };
  const limits = {
    stageTimeoutMs: opts.stageTimeout,
    authTimeoutMs: opts.authTimeout,
    framesPerRound: opts.framesPerRound,
    readyTimeoutMs: opts.readyTimeout,
    readyWaitMs: opts.readyWait,
    maxClients: opts.maxClients,
    ...(authorities.length > 0 ? { authorities } : {}),
    ...(revoked ? { revoked } : {}),
  };
  const onEvent = (ev: CoordinatorEvent): void => {
    if (ev.type === 'round-start') log(`round ${ev.round} started: n=${ev.n}, t=${ev.threshold}`);
    else if (ev.type === 'round-end') log(`round ${ev.record.round} ${ev.record.ok ? 'done' : `aborted: ${ev.record.reason}`}: ${ev.record.survivors.length}/${ev.record.n} survivors, ${ev.record.durationMs} ms`);
    else if (ev.type === 'round-skipped') log(`round ${ev.round} skipped: ${ev.reason}`);
    else if (ev.type === 'rejected') log(`rejected ${ev.remote}: ${ev.code}: ${ev.message}`);
    else if (ev.type === 'finished') log(`finished: ${ev.reason}`);
  };

  let finished: Promise<unknown>;
  let stop: (reason: string) => Promise<void>;
  if (app) {
    const { FederatedServer } = await import('../fl/server.js');
    const model = await app.model();
    const checkpointDir = opts.checkpoint ?? (opts.ledger ? `${opts.ledger}.checkpoint` : undefined);
    const server = new FederatedServer({
      transport, enrolment, model, rounds: opts.rounds ?? Infinity,
      ...(app.strategy ? { strategy: app.strategy } : {}),
      selection: opts.sampleRate !== undefined && opts.sampleRate < 1 ? { kind: 'poisson', rate: opts.sampleRate } : { kind: 'all-ready' },
      minClients: opts.minClients, population: opts.population ?? opts.minClients, maxClients: opts.maxClients,
      privacy: opts.noiseMultiplier !== undefined ? { noiseMultiplier: opts.noiseMultiplier, clipNorm: opts.clip, mechanism: opts.mechanism, bits: opts.bits } : null,
      nonPrivate: { bits: opts.bits, range: opts.range },
      dropout: opts.dropout, mode: opts.mode, colluders: opts.colluders,
      ...(ledger ? { ledger, firstRound: ledger.rounds + 1 } : {}),
      ...(app.evaluate ? { evaluate: app.evaluate } : {}),
      ...(opts.federatedEvalEvery !== undefined ? { federatedEvaluation: { every: opts.federatedEvalEvery } } : {}),
      ...(opts.adaptiveClip !== undefined ? { adaptiveClipping: { targetQuantile: opts.adaptiveClip, ...(opts.countStddev !== undefined ? { countStddev: opts.countStddev } : {}) } } : {}),
      ...(checkpointDir ? { checkpoint: { dir: checkpointDir, resume: opts.resume === true } } : {}),
      ...(opts.model ? { spec: opts.model } : {}),
      coordinator: { ...limits, name: 'fedveil' },
      onEvent,
      onLedgerLine: (l) => {
        const p = privacy();
        log(`round ${l.round}: ledger line ${l.line} written before unmasking; epsilon ${formatLedgerEpsilon(p)}; against the coordinator per client: ${formatCoordinatorEpsilon(p.againstCoordinator)}`);
      },
      onRecord: async (record, accuracy) => {
        log(`round ${record.round}: global model accuracy${opts.model ? ' on held-out synthetic data' : ''} ${Number.isFinite(accuracy) ? accuracy.toFixed(3) : '-'}`);
        await writeResult(resultLine(record, Number.isFinite(accuracy) ? accuracy : null));
      },
      onRound: (r) => {
        if (r.kind === 'evaluate' && !r.aborted) log(`round ${r.round}: federated evaluation ${r.federatedAccuracy?.toFixed(4)} over ${r.examples} held-out examples of ${r.survived} clients`);
      },
    });
    await server.start();
    if (!opts.resume && checkpointDir && existsSync(path.join(checkpointDir, 'state.json'))) log(`warning: checkpoint ${checkpointDir} exists; starting from a fresh model and overwriting it after the first round (pass --resume to continue it)`);
    if (server.resumed) log(`resumed from checkpoint ${checkpointDir} after round ${server.resumed.round} (model ${server.resumed.modelHash.slice(0, 16)}...)`);
    statusOf = () => server.status();
    finished = server.run();
    stop = (reason) => server.stop(reason);
  } else {
    // Secure aggregation of raw vectors (protocol runs and benchmarks): no model, no DP.
    const { secAggProtocol } = await import('../fl/secagg-protocol.js');
    const coordinator = new RoundCoordinator({
      transport, protocol: secAggProtocol, enrolment, dim: opts.dim, bits: opts.bits, minClients: opts.minClients,
      ...(opts.rounds !== undefined ? { rounds: opts.rounds } : {}), dropout: opts.dropout, mode: opts.mode, colluders: opts.colluders, ...limits,
      onRound: async (record) => writeResult(resultLine(record, null)),
      onEvent,
    });
    await coordinator.start();
    statusOf = () => coordinator.status();
    finished = coordinator.finished;
    stop = (reason) => coordinator.stop(reason);
  }
  // Started: from here on the ledger is in use and is kept whatever happens.
  undoStart = undefined;
  const url = transport.url();
  // One line tests and scripts can parse.
  if (!opts.json) process.stdout.write(`fedveil serve: listening on ${url}\n`);
  else log(`listening on ${url}`);
  if (dir) log(`demo client: ${url.replace(/^ws/, 'http')}demo/${opts.enrolToken ? '#token=<your enrol token>' : ''}`);

  let signalled = false;
  const onSignal = (sig: string): void => {
    if (signalled) return;
    signalled = true;
    log(`${sig}: stopping; connected clients are told the coordinator is going away`);
    void stop('coordinator shutting down');
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  try {
    await finished;
  } finally {
    await ledger?.close();
    // Give the `bye` messages a moment to leave before the sockets close.
    await new Promise((r) => setTimeout(r, 200));
    await transport.close(1000, 'done');
    await new Promise<void>((r) => (results ? results.end(() => r()) : r()));
  }
  const status = statusOf();
  if (opts.json) process.stdout.write(JSON.stringify({ ...status, privacy: privacy() }) + '\n');
  if (signalled) process.exitCode = 130;
}

/** `--app-arg key=value` pairs for the app module. */
function parseAppArgs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i < 1) throw new CliExit(2, `--app-arg expects key=value, got ${JSON.stringify(p)}`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** Files a failed start must remove again (set by openLedger when it created a ledger). */
let undoStart: (() => Promise<void>) | undefined;

/** A start that fails leaves no files behind; then the error goes on to main (one line). */
async function failedStart(err: unknown): Promise<never> {
  const undo = undoStart;
  undoStart = undefined;
  if (undo) await undo().catch(() => undefined);
  throw err;
}

/**
 * Refuse a busy port or an address that cannot be bound BEFORE any file is
 * created, with one line naming the option (a bad --host is a usage error).
 */
async function assertCanListen(host: string, port: number): Promise<void> {
  const net = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'ERROR';
      if (code === 'EADDRINUSE') reject(new CliExit(1, `serve: port ${port} on ${host} is already in use (--port)`, code));
      else if (code === 'EACCES') reject(new CliExit(1, `serve: no permission to listen on port ${port} (--port)`, code));
      else reject(new CliExit(2, `serve: cannot listen on --host ${host}: ${err.message}`, code));
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/**
 * Open the ledger (continuing it) or create it, with its signing key
 * (created 0600 if neither exists). A missing ledger whose key has signed
 * before is refused unless --new-ledger (openLedgerWithKey); nothing is
 * created when opening fails. Prints the ledger's public key.
 */
async function openLedger(file: string, keyFile: string, opts: ServeOptions): Promise<PrivacyLedger> {
  const { openLedgerWithKey, ledgerRegistryPath } = await import('../dp/ledger.js');
  const registryExisted = existsSync(ledgerRegistryPath(keyFile));
  const opened = await openLedgerWithKey(file, {
    keyFile, newLedger: opts.newLedger === true,
    delta: opts.delta, epsilonBudget: opts.epsilonBudget, accountant: 'rdp', description: `fedveil serve --model ${opts.model ?? ''}`,
  });
  const { ledger } = opened;
  if (opened.created) {
    undoStart = async () => {
      await ledger.close();
      await fs.unlink(file);
      if (opened.keyCreated) await fs.unlink(keyFile);
      if (!registryExisted) await fs.unlink(ledgerRegistryPath(keyFile));
    };
  }
  process.stderr.write(`fedveil serve: ledger ${file} ${opened.created ? 'created' : `continued after round ${ledger.rounds}`} (epsilon ${ledger.epsilon.toFixed(4)} of ${ledger.budget}); public key ${opened.publicKey} (auditors: fedveil audit --public-key ${opened.publicKey})\n`);
  if (!opened.created) {
    // A continued ledger keeps the delta, budget and description of its header: say so when the flags differ.
    const h = ledger.header;
    const description = `fedveil serve --model ${opts.model ?? ''}`;
    if (h.delta !== opts.delta) process.stderr.write(`fedveil serve: warning: --delta ${opts.delta} differs from the continued ledger's ${h.delta}; the ledger's is used\n`);
    if (h.epsilonBudget !== opts.epsilonBudget) process.stderr.write(`fedveil serve: warning: --epsilon-budget ${opts.epsilonBudget} differs from the continued ledger's ${h.epsilonBudget}; the ledger's is used\n`);
    if (h.description !== undefined && h.description !== description) process.stderr.write(`fedveil serve: warning: this run (${description}) differs from the continued ledger's (${h.description})\n`);
  }
  return ledger;
}

/** Revoked serials from a `fedveil authority revoke` file, checked against the pinned authorities. */
async function loadRevocations(file: string, authorities: Uint8Array[]): Promise<RevokedSerials> {
  const { makeClientPolicy, revokedSerials } = await import('../fl/policy.js');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new CliExit(2, `serve: cannot read --revocations ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let policy;
  try {
    // The policy parser verifies the list's signature and that its authority is pinned.
    policy = makeClientPolicy({ authorities: authorities.map((a) => Buffer.from(a).toString('hex')), revocations: [parsed] });
  } catch (err) {
    throw new CliExit(2, `serve: --revocations ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return revokedSerials(policy);
}
