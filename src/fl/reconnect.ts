/**
 * Clients that stay: a participant that outlives its connections. The loop
 * runs {@link runParticipant} over a fresh channel from `connect()`, and
 * when the connection ends for a reason that retrying can fix (the
 * coordinator restarted or stopped, the network dropped, an idle or
 * flood-guard close, a round the protocol aborted) it waits and connects
 * again, until the coordinator says `bye` (the loop resolves), it is told
 * to stop (`signal` / `stop()`: resolves with `stopped: true`), or the end
 * is one that retrying cannot change (it rejects with that error):
 *
 * - a {@link PolicyViolation}: the coordinator asked for something the
 *   client's pinned policy forbids (or its budget is spent); no retry loop
 *   against a coordinator that keeps asking;
 * - a rejection of this identity or of its messages
 *   ({@link FATAL_REJECTIONS}, or a close with one of {@link FATAL_CLOSE_CODES}
 *   without the coordinator's `error` message);
 * - a coordinator speaking another wire version (`hello.v`);
 * - a failure of the client itself (its ledger, its input, a missing
 *   package: any error not listed as retryable in {@link classifyEnding}).
 *
 * Backoff: exponential with full jitter. The n-th consecutive failed
 * attempt waits a uniform delay in [0, min(maxMs, initialMs * 2^(n-1))] ms
 * (randomness from the client's {@link RandomSource}, so clients that lost
 * the same coordinator do not come back in lock step); an authenticated
 * connection (`welcome`) resets it.
 *
 * What carries over between connections: the client's own privacy ledger
 * (it spans every coordinator session by design, dp/client-ledger.ts) and
 * the replay guard (the last round taken part in per coordinator session:
 * a round number that does not move forward within one coordinator session
 * is refused on a new connection as on the old one). A restarted
 * coordinator has a new session id, so its rounds are new rounds.
 *
 * Isomorphic: no Node built-in is imported (the browser client runs it).
 */
import { FedveilError, InvalidArgument, PolicyViolation, ProtocolAborted } from '../errors.js';
import { randomUnit, systemRandom, type RandomSource } from '../crypto/random.js';
import { CloseCode, type Channel, type CloseInfo } from '../transport/channel.js';
import { hex } from '../transport/session.js';
import { decodeServerMessage, WIRE_VERSION } from '../transport/wire.js';
import { runParticipant, type ParticipantEvent, type ParticipantOptions, type ParticipantSummary } from './participant.js';

/** Backoff bounds (ms). */
export interface BackoffOptions {
  /** Cap of the first retry's delay (default 1000 ms). */
  initialMs?: number;
  /** Largest cap (default 30000 ms). */
  maxMs?: number;
}

export const DEFAULT_BACKOFF = Object.freeze({ initialMs: 1000, maxMs: 30000 });

/** setTimeout's largest delay (2^31 - 1 ms). */
const MAX_DELAY_MS = 2147483647;

/** One step of the backoff: the attempt number (1-based since the last reset), its cap and the drawn delay. */
export interface BackoffStep {
  readonly attempt: number;
  readonly capMs: number;
  readonly delayMs: number;
}

/**
 * Exponential backoff with full jitter: attempt n (1-based) has the cap
 * min(maxMs, initialMs * 2^(n-1)) and a delay drawn uniformly from the
 * integers in [0, cap]. `reset()` starts again at attempt 1.
 */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly #rng: RandomSource;
  #failures = 0;

  constructor(opts: BackoffOptions = {}, rng: RandomSource = systemRandom) {
    const initialMs = opts.initialMs ?? Math.min(DEFAULT_BACKOFF.initialMs, opts.maxMs ?? DEFAULT_BACKOFF.initialMs);
    const maxMs = opts.maxMs ?? Math.max(DEFAULT_BACKOFF.maxMs, initialMs);
    if (!Number.isSafeInteger(initialMs) || initialMs < 1 || initialMs > MAX_DELAY_MS) throw new InvalidArgument(`backoff initialMs must be an integer in [1, ${MAX_DELAY_MS}] ms, got ${String(initialMs)}`);
    if (!Number.isSafeInteger(maxMs) || maxMs < initialMs || maxMs > MAX_DELAY_MS) throw new InvalidArgument(`backoff maxMs must be an integer in [initialMs = ${initialMs}, ${MAX_DELAY_MS}] ms, got ${String(maxMs)}`);
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.#rng = rng;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#failures;
  }

  /** The cap of attempt n (1-based). */
  capFor(attempt: number): number {
    if (!Number.isSafeInteger(attempt) || attempt < 1) throw new InvalidArgument(`backoff attempt must be an integer >= 1, got ${String(attempt)}`);
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(attempt - 1, 60));
  }

  /** Count one failed attempt and draw its delay, uniform in [0, cap]. */
  next(): BackoffStep {
    const attempt = ++this.#failures;
    const capMs = this.capFor(attempt);
    // 53 random bits: no rejection loop, and the bias over cap + 1 <= 2^31 values is below 2^-22.
    const delayMs = Math.min(capMs, Math.floor(randomUnit(this.#rng) * (capMs + 1)));
    return { attempt, capMs, delayMs };
  }

  /** After a successful authentication: the next failure is attempt 1 again. */
  reset(): void {
    this.#failures = 0;
  }
}

/**
 * Coordinator error codes (the `error` message; the participant reports
 * them as `REJECTED_<code>`) that end the loop: retrying with the same
 * identity, certificate and software gets the same answer.
 * - AUTH_FAILED: the challenge signature does not verify;
 * - NOT_CERTIFIED: no valid, unrevoked certificate of a pinned authority;
 * - NOT_ENROLLED: the identity is not enrolled and no valid token was given;
 * - ENROLMENT_LIMIT: the token has registered all the identities it may;
 * - INVALID_MESSAGE, BAD_SIGNATURE, REPLAY, FRAME_BUDGET, FRAME_TOO_LARGE:
 *   the coordinator says this client broke the protocol (a bug or an
 *   incompatible configuration, which a retry repeats).
 * Every other rejection is retried: AUTH_TIMEOUT, IDLE_TIMEOUT,
 * ALREADY_CONNECTED (the coordinator has not yet seen the old connection
 * close), NOT_READY, SERVER_FULL, ADDRESS_LIMIT, RATE_LIMITED, PING_FLOOD,
 * PRE_AUTH_FLOOD, and codes this client does not know.
 */
export const FATAL_REJECTIONS: readonly string[] = Object.freeze([
  'AUTH_FAILED', 'NOT_CERTIFIED', 'NOT_ENROLLED', 'ENROLMENT_LIMIT',
  'INVALID_MESSAGE', 'BAD_SIGNATURE', 'REPLAY', 'FRAME_BUDGET', 'FRAME_TOO_LARGE',
]);

/** Close codes of those rejections: fatal too when the close arrives without its `error` message. */
export const FATAL_CLOSE_CODES: readonly number[] = Object.freeze([
  CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_DATA, CloseCode.TOO_BIG,
  CloseCode.AUTH_FAILED, CloseCode.NOT_ENROLLED, CloseCode.ENROLMENT_LIMIT,
  CloseCode.BAD_SIGNATURE, CloseCode.REPLAY, CloseCode.FRAME_BUDGET,
]);

/**
 * Errors of one round that the secure-aggregation protocol aborted (too few
 * survivors, the coordinator's Abort, inconsistent survivor sets, a frame
 * that fails validation): the round is over, the client revealed nothing
 * more, and the next round is a fresh one, so the loop connects again.
 */
const ROUND_FAILURES: ReadonlySet<string> = new Set([
  'SERVER_ABORTED', 'THRESHOLD_NOT_MET', 'INCONSISTENT_SURVIVORS', 'SHARE_MISMATCH', 'STUCK', 'BAD_STATE', 'TOO_FEW_SURVIVORS',
  'INVALID_MESSAGE', 'INVALID_PUBLIC_KEY', 'INVALID_SHARE', 'AEAD_AUTH_FAILED', 'CRYPTO_ERROR',
]);

/** What the loop saw on one connection (for {@link classifyEnding}). */
export interface ConnectionFacts {
  /** How the channel closed, if it did. */
  close?: CloseInfo;
  /** The wire version of the coordinator's `hello`, if one arrived. */
  helloVersion?: number;
}

/** Whether an ending is retried, and the code the reconnect event reports. */
export interface Ending {
  readonly retry: boolean;
  /** The error's code (e.g. CONNECTION_LOST, REJECTED_IDLE_TIMEOUT), or ERROR for a non-fedveil error. */
  readonly code: string;
}

/** Decide whether the error that ended a connection is retried (see the module header). */
export function classifyEnding(err: unknown, facts: ConnectionFacts = {}): Ending {
  if (!(err instanceof FedveilError)) return { retry: false, code: 'ERROR' };
  const code = err.code;
  if (err instanceof PolicyViolation) return { retry: false, code };
  if (facts.helloVersion !== undefined && facts.helloVersion !== WIRE_VERSION) return { retry: false, code };
  if (code.startsWith('REJECTED_')) return { retry: !FATAL_REJECTIONS.includes(code.slice('REJECTED_'.length)), code };
  if (code === 'CONNECTION_LOST') return { retry: facts.close === undefined || !FATAL_CLOSE_CODES.includes(facts.close.code), code };
  if (code === 'CONNECTION_FAILED') return { retry: true, code };
  return { retry: ROUND_FAILURES.has(code), code };
}

/** A reconnect attempt, for logs: the n-th consecutive one, after `delayMs`, because of `reason`. */
export interface ReconnectEvent {
  readonly attempt: number;
  readonly delayMs: number;
  /** The attempt's backoff cap (the delay was drawn from [0, capMs]). */
  readonly capMs: number;
  /** Code of the ending (see {@link Ending}). */
  readonly code: string;
  /** One line: why the previous connection ended (or could not be opened). */
  readonly reason: string;
}

export interface ReconnectOptions extends Omit<ParticipantOptions, 'channel' | 'lastRounds'> {
  /** Opens a fresh channel to the coordinator (called once per attempt). */
  connect: () => Promise<Channel>;
  backoff?: BackoffOptions;
  /** The jitter's randomness (default the system CSPRNG). */
  rng?: RandomSource;
  /** Stop: the open connection is closed and the loop resolves with `stopped: true`. */
  signal?: AbortSignal;
  /** False: one connection only, any ending but `bye` or a stop rejects (no reconnect). */
  reconnect?: boolean;
  /** A connection attempt that has not opened within this time fails (retried; default 30000 ms). */
  connectTimeoutMs?: number;
  /** Called before each wait for a reconnect. */
  onReconnect?: (event: ReconnectEvent) => void;
}

/** Summary over every connection of the loop. */
export interface ReconnectSummary extends ParticipantSummary {
  /** Connections on which the client authenticated. */
  readonly sessions: number;
  /** Reconnect attempts (waits) made. */
  readonly reconnects: number;
  /** Ended by the signal / stop(), not by the coordinator's bye (`reason` is then 'stopped'). */
  readonly stopped: boolean;
}

/** A running loop: `done` settles as described in the module header; `stop()` ends it. */
export interface ReconnectingParticipant {
  readonly done: Promise<ReconnectSummary>;
  stop(): void;
}

/** Start the loop; see the module header. */
export function startReconnectingParticipant(opts: ReconnectOptions): ReconnectingParticipant {
  const controller = new AbortController();
  const outer = opts.signal;
  if (outer?.aborted) controller.abort();
  else outer?.addEventListener('abort', () => controller.abort(), { once: true });
  const done = runReconnectingParticipant({ ...opts, signal: controller.signal });
  return { done, stop: () => controller.abort() };
}

/** Run the loop until `bye`, the signal, or an ending that is not retried; see the module header. */
export async function runReconnectingParticipant(opts: ReconnectOptions): Promise<ReconnectSummary> {
  const { connect, backoff: backoffOptions, rng, signal, reconnect, connectTimeoutMs, onReconnect, onEvent, ...participant } = opts;
  const backoff = new Backoff(backoffOptions, rng);
  const timeout = connectTimeoutMs ?? 30000;
  if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > MAX_DELAY_MS) throw new InvalidArgument(`connectTimeoutMs must be an integer in [1, ${MAX_DELAY_MS}], got ${String(connectTimeoutMs)}`);
  const lastRounds = new Map<string, number>();
  const identity = hex(participant.identity.publicKey);
  let roundsJoined = 0;
  let roundsCompleted = 0;
  let sessions = 0;
  let reconnects = 0;
  const summary = (reason: string, stopped: boolean): ReconnectSummary => ({
    identity, roundsJoined, roundsCompleted, reason, ...(participant.ledger ? { privacySpent: participant.ledger.privacySpent() } : {}), sessions, reconnects, stopped,
  });
  const events = (ev: ParticipantEvent): void => {
    if (ev.type === 'welcome') {
      sessions++;
      backoff.reset();
    } else if (ev.type === 'round-start') roundsJoined++;
    else if (ev.type === 'round-end' && ev.ok && ev.included) roundsCompleted++;
    onEvent?.(ev);
  };

  for (;;) {
    if (signal?.aborted) return summary('stopped', true);
    const facts: ConnectionFacts = {};
    let failure: unknown;
    let channel: Channel | undefined;
    try {
      channel = observe(await open(connect, timeout, signal), facts);
    } catch (err) {
      failure = err;
    }
    if (channel) {
      const ch = channel;
      const onAbort = (): void => ch.close(CloseCode.NORMAL, 'client stopping');
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const s = await runParticipant({ ...participant, channel: ch, lastRounds, onEvent: events });
        return summary(s.reason, false);
      } catch (err) {
        failure = err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
    if (signal?.aborted) return summary('stopped', true);
    const ending = classifyEnding(failure, facts);
    if (!ending.retry || reconnect === false) throw failure;
    const step = backoff.next();
    reconnects++;
    onReconnect?.({ attempt: step.attempt, delayMs: step.delayMs, capMs: step.capMs, code: ending.code, reason: oneLine(failure) });
    await sleep(step.delayMs, signal);
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').slice(0, 500);
}

/** `connect()`, failing (CONNECTION_FAILED) after `timeoutMs` or on the signal; a channel that opens too late is closed. */
function open(connect: () => Promise<Channel>, timeoutMs: number, signal: AbortSignal | undefined): Promise<Channel> {
  return new Promise<Channel>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => settle(() => reject(new ProtocolAborted('stopped while connecting', { code: 'CONNECTION_FAILED' })));
    const timer = setTimeout(() => settle(() => reject(new ProtocolAborted(`no connection to the coordinator within ${timeoutMs} ms`, { code: 'CONNECTION_FAILED' }))), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    let opening: Promise<Channel>;
    try {
      opening = connect();
    } catch (err) {
      opening = Promise.reject(err);
    }
    opening.then(
      (ch) => {
        if (settled) ch.close(CloseCode.NORMAL, 'client stopping');
        else settle(() => resolve(ch));
      },
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The same channel, recording how it closed and the wire version of its first frame (the coordinator's `hello`). */
function observe(channel: Channel, facts: ConnectionFacts): Channel {
  let first = true;
  return {
    get remote() {
      return channel.remote;
    },
    get closed() {
      return channel.closed;
    },
    send: (frame) => channel.send(frame),
    close: (code, reason) => channel.close(code, reason),
    onMessage: (listener) =>
      channel.onMessage((frame) => {
        if (first) {
          first = false;
          try {
            const m = decodeServerMessage(frame);
            if (m.t === 'hello') facts.helloVersion = m.v;
          } catch {
            // The participant reports a bad frame itself.
          }
        }
        listener(frame);
      }),
    onClose: (listener) =>
      channel.onClose((info) => {
        facts.close = info;
        listener(info);
      }),
    ...(channel.markAuthenticated ? { markAuthenticated: () => channel.markAuthenticated!() } : {}),
  };
}
