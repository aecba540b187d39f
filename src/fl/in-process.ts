/**
 * Federated learning in one process, with the deployment's runtime: the
 * federated server (server.ts) over the in-memory transport, and one
 * participant (participant.ts) running the client app (client-app.ts) per
 * simulated client. Clients authenticate with their own Ed25519 identities
 * and enrolment certificates (from an authority made for the run), check
 * every round against their policy, train, noise and mask exactly as a
 * deployed client does. Only the channel is in memory.
 *
 * SIMULATION, NOT A DEPLOYMENT: the clients share one model instance and
 * train one at a time; with `rng = deterministicRandom(seed)`, identities,
 * sampling, noise and masks are reproducible, which is never acceptable for
 * real keys and noise.
 *
 * Injected dropouts: a client that drops closes its channel just before it
 * would send the frame of a random stage, then reconnects (a new session)
 * for later rounds.
 */
import type * as tf from '@tensorflow/tfjs';
import { InvalidArgument, ProtocolAborted } from '../errors.js';
import { randomBelow, randomUnit, systemRandom, type RandomSource } from '../crypto/random.js';
import { ed25519KeyPair } from '../crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../crypto/certificate.js';
import { MemoryTransport } from '../transport/memory.js';
import { hex } from '../transport/session.js';
import type { DistributedMechanism } from '../dp/plan.js';
import type { PrivacyLedger } from '../dp/ledger.js';
import { makeClientPolicy } from './policy.js';
import { runParticipant } from './participant.js';
import { classifyEnding } from './reconnect.js';
import { prepareClientApp, type ClientApp, type ClientData, type TrainingOptions } from './client-app.js';
import { FederatedServer, type FederatedServerOptions, type RoundReport } from './server.js';
import { secAggProtocolWith } from './secagg-protocol.js';
import { plainSumProtocol } from './plain-protocol.js';
import type { Protocol } from './protocol.js';

/** Target user-level DP for an in-process run; z is calibrated unless given. */
export interface InProcessPrivacy {
  epsilon: number;
  delta: number;
  clipNorm: number;
  mechanism?: DistributedMechanism;
  accountant?: 'rdp' | 'pld';
  noiseMultiplier?: number;
  bits?: number;
  /** The ledger: a path to create (with a fresh signing key), or an open ledger. */
  ledger: string | PrivacyLedger;
}

export interface InProcessOptions {
  /** Builds the model (called twice: the server's and the clients' shared instance). */
  model: () => tf.LayersModel | Promise<tf.LayersModel>;
  clients: ReadonlyArray<{ data: ClientData; evaluationData?: ClientData }>;
  training?: TrainingOptions;
  rounds: number;
  /** Poisson sampling rate q of the clients (default 1: every client every round). */
  sampleRate?: number;
  privacy?: InProcessPrivacy | null;
  /** Injected dropout probability per sampled client per round (default 0). */
  dropout?: number;
  /** 'secagg' (default) or 'plain-sum' (NOT SECURE, benchmarks only: the identical sum in the clear). */
  aggregation?: 'secagg' | 'plain-sum';
  mode?: 'semi-honest' | 'active';
  colluders?: number;
  strategy?: FederatedServerOptions['strategy'];
  evaluate?: FederatedServerOptions['evaluate'];
  federatedEvaluation?: FederatedServerOptions['federatedEvaluation'];
  checkpoint?: FederatedServerOptions['checkpoint'];
  adaptiveClipping?: FederatedServerOptions['adaptiveClipping'];
  /** Give every client its own (in-memory) privacy ledger, checked and written as in deployment (default false). */
  clientLedgers?: boolean;
  /** Rosters up to this size use the full graph (default: above the largest expected roster). */
  fullGraphUpTo?: number;
  rng?: RandomSource;
  onRound?: (r: RoundReport) => void;
  /** Each completed training round's record (the modular sum and its survivors). */
  onRecord?: FederatedServerOptions['onRecord'];
  /** Test hook: each client's integer input of each round (it never leaves the client otherwise). */
  onInput?: (client: number, round: number, identity: string, input: Uint32Array) => void;
}

export interface InProcessRun {
  readonly server: FederatedServer;
  /** The clients' own privacy ledgers (with `clientLedgers`), index = client. */
  readonly clientLedgers: ReadonlyArray<import('../dp/client-ledger.js').ClientPrivacyLedger>;
  readonly ledger?: PrivacyLedger;
  /** The noise multiplier in use (null when non-private). */
  readonly noiseMultiplier: number | null;
  /** The epsilon the calibration predicts after all rounds (NaN when z was given). */
  readonly predictedEpsilon: number;
  /** Drive the run to the end; `onRound` sees each report as it happens (with bytes and training time). */
  run(onRound?: (r: RoundReport) => void): Promise<{ rounds: RoundReport[]; stoppedBy?: string }>;
  close(): Promise<void>;
}

class Dropped extends Error {}

/** Expected roster size bound: q*N plus six standard deviations. */
function rosterBound(population: number, q: number): number {
  const m = q * population;
  return Math.min(population, Math.ceil(m + 6 * Math.sqrt(m * (1 - q))) + 2);
}

/** Set up an in-process federation; `run()` drives it to the end. */
export async function createInProcessRun(o: InProcessOptions): Promise<InProcessRun> {
  if (!o || typeof o !== 'object') throw new InvalidArgument('in-process run: options required');
  if (!Array.isArray(o.clients) || o.clients.length < 2) throw new InvalidArgument('in-process run: at least two clients are needed');
  const rng = o.rng ?? systemRandom;
  const N = o.clients.length;
  const q = o.sampleRate ?? 1;
  const dropout = o.dropout ?? 0;
  const mode = o.mode ?? 'active';
  const colluders = o.colluders ?? (mode === 'active' ? 1 : 0);
  const fullGraphUpTo = o.fullGraphUpTo ?? Math.max(64, rosterBound(N, q));
  // The survivors the SecAgg round and the noise are sized for.
  const dropoutTolerance = Math.min(0.3, Math.max(2 * dropout, 0.05));
  const serverModel = await o.model();
  const shared = await o.model();
  const dim = serverModel.countParams();

  let ledger: PrivacyLedger | undefined;
  let noiseMultiplier: number | null = null;
  let predictedEpsilon = NaN;
  let ownLedger = false;
  const p = o.privacy ?? null;
  if (p) {
    const { planDistributedDp } = await import('../dp/plan.js');
    const { calibrateNoiseMultiplier } = await import('../dp/calibrate.js');
    const { selfComposedEvent } = await import('../dp/events.js');
    const m = Math.max(2, Math.round(q * N));
    const countStddev = o.adaptiveClipping ? o.adaptiveClipping.countStddev ?? m / 20 : undefined;
    const event = (z: number) => {
      const plan = planDistributedDp({
        clipNorm: p.clipNorm, noiseMultiplier: z, expectedClients: m, maxClients: m, minClients: Math.max(2, Math.ceil(m * (1 - dropoutTolerance))), colluders,
        dim, bits: p.bits ?? 20, mechanism: p.mechanism ?? 'ddg', ...(q < 1 ? { samplingRate: q } : {}), rotationSeed: new Uint8Array(32),
        ...(countStddev !== undefined ? { adaptiveClipping: { countStddev } } : {}),
      }, rng);
      // With adaptive clipping a round releases the update and the count: calibrate on both.
      return plan.adaptiveClipping ? plan.adaptiveClipping.event : plan.event;
    };
    if (p.noiseMultiplier !== undefined) noiseMultiplier = p.noiseMultiplier;
    else {
      const cal = calibrateNoiseMultiplier({
        epsilon: p.epsilon, delta: p.delta, samplingProbability: q, rounds: o.rounds, accountant: p.accountant ?? 'rdp', tolerance: 1e-3,
        event: (z) => selfComposedEvent(event(z), o.rounds),
      });
      noiseMultiplier = cal.noiseMultiplier;
      predictedEpsilon = cal.epsilon;
    }
    if (typeof p.ledger === 'string') {
      const { PrivacyLedger, generateLedgerKey } = await import('../dp/ledger.js');
      // The ledger key always comes from the system CSPRNG, even in a seeded run.
      ledger = await PrivacyLedger.create(p.ledger, {
        secretKey: generateLedgerKey().secretKey, delta: p.delta, epsilonBudget: p.epsilon, accountant: p.accountant ?? 'rdp',
        description: `in-process federation: ${N} clients, q=${q}, ${o.rounds} rounds`,
      });
      ownLedger = true;
    } else ledger = p.ledger;
  }

  // An enrolment authority for the run; every client gets a certificate.
  const authority = ed25519KeyPair(rng);
  const now = Math.floor(Date.now() / 1000);
  const identities = o.clients.map((_c, i) => {
    const id = ed25519KeyPair(rng);
    const cert = encodeCertificate(issueCertificate(authority.secretKey, { subject: id.publicKey, serial: i + 1, notBefore: now - 60, notAfter: now + 365 * 86400 }));
    return { id, cert };
  });
  const policy = makeClientPolicy({
    mode, authorities: [authority.publicKey], requireCertificates: true, minRoster: 2, minThreshold: 2, colluders, minHonest: 1,
    dp: { required: p !== null, ...(p ? { minNoiseMultiplier: Math.min(0.5, noiseMultiplier ?? 0.5), maxClip: Math.max(10, p.clipNorm) } : {}) },
    budget: { epsilon: 1e9 }, evaluation: o.federatedEvaluation !== undefined,
  });
  const protocol: Protocol = o.aggregation === 'plain-sum' ? plainSumProtocol() : secAggProtocolWith({ fullGraphUpTo });

  // One model instance for all clients: local training runs one client at a time.
  let lock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = lock.then(work, work);
    lock = next.catch(() => undefined);
    return next;
  };
  // Per round: local training time and loss of the clients (the round report carries them).
  const trained = new Map<number, { ms: number; loss: number; clients: number }>();
  const onTrained = (r: { round: number; loss: number; trainMs: number }): void => {
    const t = trained.get(r.round) ?? { ms: 0, loss: 0, clients: 0 };
    t.ms += r.trainMs;
    t.loss += r.loss;
    t.clients++;
    trained.set(r.round, t);
  };
  const apps: ClientApp[] = [];
  for (const c of o.clients) {
    apps.push(await prepareClientApp({
      model: () => shared, data: c.data, ...(c.evaluationData !== undefined ? { evaluationData: c.evaluationData } : {}),
      ...(o.training ? { training: o.training } : {}), rng, exclusive, disposeModel: false, onTrained,
    }));
  }
  const reports: RoundReport[] = [];
  let extra: ((r: RoundReport) => void) | undefined;
  let bytesBefore = 0;
  const onRound = (r: RoundReport): void => {
    const t = trained.get(r.round);
    trained.delete(r.round);
    const bytes = transport.bytes - bytesBefore;
    bytesBefore = transport.bytes;
    const full: RoundReport = Object.freeze({ ...r, bytes, trainSeconds: t ? t.ms / 1000 : 0, meanLoss: t && t.clients > 0 ? t.loss / t.clients : NaN });
    reports.push(full);
    o.onRound?.(full);
    extra?.(full);
  };

  const clientLedgers: Array<import('../dp/client-ledger.js').ClientPrivacyLedger | undefined> = [];
  if (o.clientLedgers) {
    const { ClientPrivacyLedger, memoryClientLedgerStore } = await import('../dp/client-ledger.js');
    for (const { id } of identities) clientLedgers.push(await ClientPrivacyLedger.open(memoryClientLedgerStore(), { signingKey: id.secretKey, budget: { epsilon: policy.budget.epsilon, delta: policy.budget.delta } }));
  }
  const transport = new MemoryTransport();
  const server = new FederatedServer({
    transport, protocol, enrolment: { enrolled: new Set() }, model: serverModel, rounds: o.rounds,
    selection: q < 1 ? { kind: 'poisson', rate: q } : { kind: 'all-ready' }, population: N, minClients: 2, maxClients: Math.max(2, rosterBound(N, q)),
    privacy: p ? { noiseMultiplier: noiseMultiplier!, clipNorm: p.clipNorm, ...(p.mechanism ? { mechanism: p.mechanism } : {}), ...(p.bits ? { bits: p.bits } : {}) } : null,
    dropout: dropoutTolerance, mode, colluders, ...(ledger ? { ledger } : {}), rng,
    ...(o.strategy ? { strategy: o.strategy } : {}), ...(o.evaluate ? { evaluate: o.evaluate } : {}),
    ...(o.federatedEvaluation ? { federatedEvaluation: o.federatedEvaluation } : {}), ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    onRound, ...(o.onRecord ? { onRecord: o.onRecord } : {}), ...(o.adaptiveClipping ? { adaptiveClipping: o.adaptiveClipping } : {}),
    coordinator: { authorities: [authority.publicKey], readyWaitMs: 0, readyTimeoutMs: 0, stageTimeoutMs: 600000, authTimeoutMs: 600000, framesPerRound: 16, name: 'fedveil in-process' },
  });

  const STAGES = ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'UnmaskingResponse'];
  const participate = async (i: number): Promise<void> => {
    const { id, cert } = identities[i]!;
    // The replay guard survives reconnects, as in a deployed client.
    const lastRounds = new Map<string, number>();
    for (;;) {
      let dropAt: string | undefined;
      let channel: Awaited<ReturnType<typeof transport.connect>> | undefined;
      try {
        channel = await transport.connect();
        const ch = channel;
        await runParticipant({
          channel: ch, identity: id, certificate: cert, policy, protocol, agent: 'fedveil in-process', lastRounds,
          input: async (info) => {
            const v = await apps[i]!.input(info);
            o.onInput?.(i, info.round, hex(id.publicKey), v);
            return v;
          },
          ...(clientLedgers[i] ? { ledger: clientLedgers[i] } : {}),
          onEvent: (ev) => {
            if (ev.type === 'round-start') dropAt = dropout > 0 && randomUnit(rng) < dropout ? STAGES[randomBelow(STAGES.length, rng)] : undefined;
          },
          beforeSend: (type) => {
            if (dropAt !== undefined && type === dropAt) {
              ch.close(1000, 'simulated dropout');
              throw new Dropped();
            }
          },
        });
        return;
      } catch (err) {
        // An injected dropout, or an ending a deployed client retries (an aborted round, a lost
        // connection; reconnect.ts): reconnect at once. A policy violation or a fatal rejection ends it.
        const dropped = err instanceof Dropped || (err instanceof ProtocolAborted && (err.cause instanceof Dropped || err.code === 'CONNECTION_LOST') && dropAt !== undefined);
        if (!dropped && !classifyEnding(err).retry) throw err;
        if (server.status()?.state === 'finished' || server.status()?.state === 'stopped') return;
      }
    }
  };

  let clientsDone: Promise<unknown> | undefined;
  return Object.freeze({
    server, ...(ledger ? { ledger } : {}), noiseMultiplier, predictedEpsilon, clientLedgers: clientLedgers.filter((l): l is NonNullable<typeof l> => l !== undefined),
    async run(each?: (r: RoundReport) => void) {
      extra = each;
      await server.start();
      clientsDone = Promise.allSettled(o.clients.map((_c, i) => participate(i)));
      const out = await server.run();
      // Clients that were between connections when the run ended never heard its bye: close the transport.
      await server.stop('run complete');
      await clientsDone;
      return { rounds: [...reports], ...(out.stoppedBy !== undefined ? { stoppedBy: out.stoppedBy } : {}) };
    },
    async close(): Promise<void> {
      await server.stop('closed');
      if (clientsDone) await clientsDone;
      if (ownLedger) await ledger?.close();
      for (const a of apps) a.dispose();
      shared.dispose();
      serverModel.dispose();
    },
  });
}

