/**
 * The fedveil browser client (bundled by scripts/build-browser.mjs into one
 * ES module, `fedveil-client.js`): a participant that runs in a tab, joins
 * a `fedveil serve` coordinator over the standard `WebSocket`, and takes
 * part in rounds with the same SecAgg state machines and authenticated
 * envelopes as the Node client (src/fl/participant.ts).
 *
 * In `train` rounds it trains the round's tfjs model (pure-JS cpu backend,
 * bundled) on synthetic local data generated in the tab, so nothing but the
 * masked, encoded update leaves it. Its Ed25519 identity is fresh per page
 * load and registered with the enrolment token. Randomness: the browser's
 * `crypto.getRandomValues` (I7); the SecAgg mask PRG: WebCrypto AES-128-CTR
 * (async `crypto.subtle`, byte-identical to the Node path; see
 * `browserMaskPrg`). No Node built-in is imported here.
 *
 * It stays (fl/reconnect.ts): a lost connection - the coordinator restarted,
 * the network dropped, an idle or flood-guard close - is followed by a
 * reconnect with exponential backoff and full jitter, until the coordinator
 * says bye, `signal` stops it, or an ending that retrying cannot change
 * (a policy violation, a rejection of this identity).
 */
import * as tf from '@tensorflow/tfjs';
import { ed25519KeyPair, ed25519PublicKey } from '../crypto/signatures.js';
import { hex } from '../transport/session.js';
import type { ParticipantEvent, RoundInfo } from '../fl/participant.js';
import { runReconnectingParticipant, type BackoffOptions, type ReconnectEvent, type ReconnectSummary } from '../fl/reconnect.js';
import { secAggProtocol } from '../fl/secagg-protocol.js';
import { trainingInput } from '../fl/training.js';
import { prepareClientApp, type ClientAppOptions } from '../fl/client-app.js';
import { webSocketConnector, type WebSocketLike } from '../transport/ws-client.js';
import { fillRandomUint32 } from '../crypto/random.js';
import { clientMaskBackend, clientMaskStats } from '../secagg/client.js';
import { insecureDevelopmentPolicy, makeClientPolicy, type ClientPolicy, type ClientPolicyInput } from '../fl/policy.js';
import { ClientPrivacyLedger, memoryClientLedgerStore } from '../dp/client-ledger.js';
import { indexedDbClientLedgerStore } from '../dp/client-ledger-idb.js';

export { insecureDevelopmentPolicy, makeClientPolicy };
/** The tfjs namespace the bundle runs with: build a page's model with it (one tfjs instance per page). */
export { tf };
/** An identity's public key from its secret key (for pages that keep their identity). */
export { ed25519PublicKey };

function isPolicy(p: ClientPolicyInput | ClientPolicy | undefined): p is ClientPolicy {
  return p !== undefined && Object.isFrozen(p) && Array.isArray((p as ClientPolicy).revocations);
}

export interface BrowserClientOptions {
  /** ws:// or wss:// URL of the coordinator. */
  url: string;
  enrolToken?: string;
  /**
   * The client's pinned privacy policy (an object as in policy JSON files, or
   * a made policy). Default: the strict default policy, which accepts no
   * round until an authority is pinned. The demo page passes
   * insecureDevelopmentPolicy() (token enrolment, no certificates).
   */
  policy?: ClientPolicyInput | ClientPolicy;
  /** This tab's Ed25519 identity (default: fresh per page load). */
  identity?: { secretKey: Uint8Array; publicKey: Uint8Array };
  /** Its enrolment certificate (encoded, 153 bytes). */
  certificate?: Uint8Array;
  /** IndexedDB database of this client's own privacy ledger (default 'fedveil-privacy-ledger/' + the first 16 hex digits of its public key: one ledger per identity, so tabs of one origin with different identities never share one; in memory without IndexedDB). */
  ledgerName?: string;
  /** Local training examples per tab (default 64). */
  examples?: number;
  /**
   * The page's own app: its tfjs model (build it with the exported `tf`) and
   * its local data, checked against the model before connecting (a
   * DataMismatch rejects then). Without it the tab trains the coordinator's
   * built-in model on synthetic data.
   */
  app?: Omit<ClientAppOptions, 'rng' | 'exclusive' | 'disposeModel'>;
  onLog?: (line: string) => void;
  onEvent?: (event: ParticipantEvent) => void;
  /** Test hook: sees each round's plain input vector (never sent anywhere). */
  onInput?: (round: number, identity: string, input: Uint32Array) => void;
  /** Reconnect after a lost connection (default true, with the default backoff; or the backoff bounds); false: end on it. */
  reconnect?: boolean | BackoffOptions;
  /** Leave: the connection is closed and the returned promise resolves with `stopped: true`. */
  signal?: AbortSignal;
  /** Each reconnect attempt (also logged through onLog). */
  onReconnect?: (event: ReconnectEvent) => void;
}

/** The mask PRG backend of this page's SecAgg clients, and the mask vectors each backend has added so far. */
export function browserMaskPrg(): { backend: string; adds: Readonly<Record<string, number>> } {
  return { backend: clientMaskBackend(), adds: clientMaskStats() };
}

/** Join and take part in rounds until the coordinator says bye (or `signal`; see the module header). */
export async function runBrowserClient(opts: BrowserClientOptions): Promise<ReconnectSummary> {
  await tf.setBackend('cpu');
  await tf.ready();
  const identity = opts.identity ?? ed25519KeyPair();
  const policy = isPolicy(opts.policy) ? opts.policy : makeClientPolicy(opts.policy ?? {});
  const store = typeof indexedDB !== 'undefined' ? indexedDbClientLedgerStore(opts.ledgerName ?? `fedveil-privacy-ledger/${hex(identity.publicKey).slice(0, 16)}`) : memoryClientLedgerStore();
  const ledger = await ClientPrivacyLedger.open(store, { signingKey: identity.secretKey, budget: { epsilon: policy.budget.epsilon, delta: policy.budget.delta }, maxParticipations: policy.budget.maxParticipations });
  const id = hex(identity.publicKey);
  const log = (line: string): void => opts.onLog?.(line);
  // The mask PRG runs on WebCrypto AES-CTR here (async; no node:crypto in a browser).
  log(`identity ${id.slice(0, 16)}..., tfjs backend ${tf.getBackend()}, mask PRG ${clientMaskBackend()}`);
  const onTrained = (r: { round: number; examples: number; loss: number }): void => log(`round ${r.round}: trained on ${r.examples} local examples, loss ${r.loss.toFixed(4)}`);
  const app = opts.app ? await prepareClientApp({ ...opts.app, onTrained }) : undefined;
  if (app) log(`app model ${app.signature} (${app.dim} parameters), ${app.data.n} local examples${app.evaluationData ? `, ${app.evaluationData.n} held-out` : ''}`);
  const train = trainingInput({ examples: opts.examples ?? 64, onTrained });
  const input = async (info: RoundInfo): Promise<Uint32Array> => {
    let v: Uint32Array;
    if (app && info.task.kind !== 'vector') v = await app.input(info);
    else if (info.task.kind === 'train') v = await train(info);
    else {
      v = new Uint32Array(info.dim);
      fillRandomUint32(v);
      if (info.bits < 32) for (let i = 0; i < v.length; i++) v[i] = v[i]! & (2 ** info.bits - 1);
    }
    opts.onInput?.(info.round, id, v);
    return v;
  };
  const open = webSocketConnector(opts.url, (u) => new WebSocket(u) as unknown as WebSocketLike);
  const connect = async () => {
    const channel = await open();
    log(`connected to ${opts.url}`);
    return channel;
  };
  return runReconnectingParticipant({
    connect,
    reconnect: opts.reconnect !== false,
    ...(typeof opts.reconnect === 'object' ? { backoff: opts.reconnect } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onReconnect: (ev) => {
      opts.onReconnect?.(ev);
      log(`${ev.reason}; reconnecting in ${ev.delayMs} ms (attempt ${ev.attempt})`);
    },
    identity,
    protocol: secAggProtocol,
    policy,
    ledger,
    ...(opts.certificate ? { certificate: opts.certificate } : {}),
    input,
    ...(opts.enrolToken ? { enrolToken: opts.enrolToken } : {}),
    agent: `fedveil-browser/${typeof navigator !== 'undefined' ? navigator.userAgent.slice(0, 80) : '?'}`,
    onEvent: (ev) => {
      opts.onEvent?.(ev);
      if (ev.type === 'welcome') log('authenticated');
      else if (ev.type === 'round-start') log(`round ${ev.round} started as client ${ev.index} of ${ev.n}`);
      else if (ev.type === 'refused') log(`round ${ev.round}: refused by this client's policy, nothing sent: ${ev.message}`);
      else if (ev.type === 'privacy-spent') log(`round ${ev.round}: privacy spent against the coordinator: epsilon ${ev.epsilon.toFixed(4)} of ${ev.budget}`);
      else if (ev.type === 'input-sent') log(`round ${ev.round}: masked input sent (mask vectors so far by PRG backend: ${JSON.stringify(clientMaskStats())})`);
      else if (ev.type === 'round-end') log(`round ${ev.round} ${ev.ok ? (ev.included ? 'completed' : 'completed without this client (dropped)') : `aborted: ${ev.reason}`} (${ev.survivors} survivors)`);
    },
  });
}
