/**
 * A participant: one client taking part in rounds over any {@link Channel}
 * (isomorphic: the Node `fedveil join` and the browser client both run it).
 *
 * It answers the coordinator's challenge with its Ed25519 identity
 * (session.ts), then for each round builds a SecAgg client state machine
 * from the public configuration, obtains its input vector from the caller
 * (local training, or a provided vector), and exchanges the protocol frames,
 * each in an envelope signed and bound to this connection. Frames are
 * processed strictly in order (the state machine's `handle` may be async,
 * e.g. WebCrypto in browsers).
 *
 * Ends when the coordinator says `bye` (resolves), rejects it (typed
 * error with the coordinator's code), or the connection is lost (a
 * `ProtocolAborted` with code `CONNECTION_LOST`, one clear line).
 */
import { unpack } from 'msgpackr';
import { FedveilError, InvalidMessage, PolicyViolation, ProtocolAborted } from '../errors.js';
import type { Channel, CloseInfo } from '../transport/channel.js';
import type { Protocol, RoundClient } from './protocol.js';
import { channelBinding, hex, signAuth, signEnvelope, type Identity } from '../transport/session.js';
import { decodeServerMessage, encodeMessage, WIRE_VERSION, type RoundTask, type ServerMessage } from '../transport/wire.js';
import { makeClientPolicy, type ClientPolicy } from './policy.js';
import { checkRound, type CheckedRound } from './round-check.js';
import { unamplifiedRoundEvent } from '../dp/plan-verify.js';
import type { ClientPrivacyLedger } from '../dp/client-ledger.js';

/** What the input callback learns about the round it must provide a vector for. */
export interface RoundInfo {
  readonly round: number;
  readonly index: number;
  readonly n: number;
  readonly dim: number;
  readonly bits: number;
  readonly task: RoundTask;
  /** The round as this client verified it against its policy (config with the round commitment, verified DP plan). */
  readonly checked: CheckedRound;
}

export type ParticipantEvent =
  | { type: 'welcome'; identity: string }
  | { type: 'round-start'; round: number; index: number; n: number }
  | { type: 'input-sent'; round: number }
  /** The round contradicted the client's policy; nothing was sent for it. */
  | { type: 'refused'; round: number; field: string; message: string }
  /** This participation was recorded in the client's own ledger (before the masked input left). */
  | { type: 'privacy-spent'; round: number; epsilon: number; delta: number; participations: number; budget: number }
  | { type: 'round-end'; round: number; ok: boolean; included: boolean; survivors: number; reason: string };

export interface ParticipantOptions {
  channel: Channel;
  identity: Identity;
  protocol: Pick<Protocol, 'createClient'>;
  /**
   * The client's pinned privacy policy (fl/policy.ts). Default: the strict
   * default policy (active mode, certified roster, DP required), which
   * accepts no round until an authority is pinned.
   */
  policy?: ClientPolicy;
  /** This client's enrolment certificate (encoded), presented at authentication. */
  certificate?: Uint8Array;
  /**
   * The client's own privacy ledger: each round is checked against its
   * budget before any data is touched, and recorded (durably) before the
   * masked input is sent.
   */
  ledger?: ClientPrivacyLedger;
  /** On a policy violation: keep waiting for the next round (default false: end with the PolicyViolation). */
  keepWaiting?: boolean;
  /** Clock for certificate validity, Unix seconds (default: the system clock). */
  now?: () => number;
  /** The client's input for a round (entries in [0, 2^bits), length dim). */
  input: (info: RoundInfo) => Uint32Array | Promise<Uint32Array>;
  enrolToken?: string;
  agent?: string;
  /**
   * The replay guard's state, shared by the connections of one client
   * (fl/reconnect.ts): the last round taken part in, per coordinator
   * session (hex). Default: this connection's own.
   */
  lastRounds?: Map<string, number>;
  onEvent?: (event: ParticipantEvent) => void;
  /** Test hook: called with each outgoing SecAgg frame's type before it is sent; a returned promise is awaited. */
  beforeSend?: (type: string) => void | Promise<void>;
}

/** A coordinator rejected this client (its error code is kept). */
export class Rejected extends ProtocolAborted {
  constructor(code: string, message: string) {
    super(`coordinator rejected the client: ${code}: ${message}`, { code: `REJECTED_${code}` });
  }
}

/** Summary of a participant's session. */
export interface ParticipantSummary {
  readonly identity: string;
  readonly roundsJoined: number;
  /** Rounds that completed with this client's input in the sum. */
  readonly roundsCompleted: number;
  /** Why the coordinator said bye. */
  readonly reason: string;
  /** With a ledger: this client's epsilon against the coordinator (no sampling amplification) over every participation it recorded. */
  readonly privacySpent?: ReturnType<ClientPrivacyLedger['privacySpent']>;
}

/** Run until `bye`; see the module header for how it ends. */
export function runParticipant(opts: ParticipantOptions): Promise<ParticipantSummary> {
  const { channel, identity } = opts;
  const identityHex = hex(identity.publicKey);
  const policy = opts.policy ?? makeClientPolicy({});
  let binding: Uint8Array | undefined;
  let coordinatorSession: Uint8Array | undefined;
  /** Round tags this client took part in (replay guard when no ledger is kept). */
  const seenTags = new Set<string>();
  const lastRounds = opts.lastRounds ?? new Map<string, number>();
  let seq = 0;
  let client: RoundClient | undefined;
  let roundChecked: CheckedRound | undefined;
  let currentRound = -1;
  let roundsJoined = 0;
  let roundsCompleted = 0;
  let done = false;
  let byeReason = '';
  let queue: Promise<void> = Promise.resolve();

  return new Promise<ParticipantSummary>((resolve, reject) => {
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      if (err) reject(err);
      else resolve({ identity: identityHex, roundsJoined, roundsCompleted, reason: byeReason, ...(opts.ledger ? { privacySpent: opts.ledger.privacySpent() } : {}) });
      channel.close(1000, err ? 'client error' : 'bye');
    };

    const sendFrames = async (round: number, frames: Array<{ to: number | 'server'; frame: Uint8Array }>): Promise<void> => {
      if (!binding) throw new ProtocolAborted('protocol frame before authentication');
      for (const o of frames) {
        if (o.to !== 'server') continue; // clients only ever talk to the server
        if (opts.beforeSend) await opts.beforeSend(frameType(o.frame) ?? '');
        seq++;
        const sig = signEnvelope(identity, binding, seq, round, o.frame);
        channel.send(encodeMessage({ t: 'env', seq, round, payload: o.frame, sig }));
      }
    };

    const onMessage = async (msg: ServerMessage): Promise<void> => {
      switch (msg.t) {
        case 'hello': {
          if (msg.v !== WIRE_VERSION) throw new InvalidMessage(`coordinator speaks wire version ${msg.v}, this client ${WIRE_VERSION}`, 'coordinator');
          const sig = signAuth(identity, msg.nonce, msg.session);
          binding = channelBinding(msg.nonce, msg.session, identity.publicKey);
          coordinatorSession = msg.session;
          channel.send(encodeMessage({ t: 'auth', v: WIRE_VERSION, pk: identity.publicKey, sig, token: opts.enrolToken ?? '', agent: opts.agent ?? '', ...(opts.certificate ? { cert: opts.certificate } : {}) }));
          return;
        }
        case 'welcome':
          opts.onEvent?.({ type: 'welcome', identity: msg.identity });
          // Only clients that say they are ready are put on a roster.
          channel.send(encodeMessage({ t: 'ready' }));
          return;
        case 'round': {
          if (!coordinatorSession) throw new InvalidMessage('round before hello', 'coordinator');
          currentRound = msg.round;
          client = undefined;
          const c = msg.config;
          let checked: CheckedRound;
          try {
            // Everything is checked against the pinned policy before the data is touched.
            checked = checkRound(policy, {
              round: msg.round, index: msg.index, n: c.n, threshold: c.threshold, minSurvivors: c.minSurvivors, bits: c.bits, dim: c.dim, graph: c.graph, degree: c.degree,
              mode: c.mode, seed: c.seed, stageTimeoutMs: c.stageTimeoutMs, maxFrameBytes: c.maxFrameBytes, roster: c.roster,
              kind: msg.task.kind,
              ...(msg.task.kind === 'train' ? { model: msg.task.global, ...(msg.task.dp !== undefined ? { plan: msg.task.dp } : {}) } : {}),
              ...(msg.task.kind === 'evaluate' ? { model: msg.task.global } : {}),
            }, { identity: identity.publicKey, coordinatorSession, now: opts.now?.() ?? Math.floor(Date.now() / 1000) });
            const tagHex = hex(checked.roundTag);
            // A replayed round (same tag) or a round number that does not move forward.
            if (seenTags.has(tagHex)) throw new PolicyViolation('replay', `round ${msg.round} was already taken part in`);
            const lastRound = lastRounds.get(hex(coordinatorSession)) ?? -1;
            if (msg.round <= lastRound) throw new PolicyViolation('replay', `round ${msg.round} is not after round ${lastRound} of this coordinator session`);
            if (opts.ledger && checked.plan) {
              opts.ledger.check({ event: unamplifiedRoundEvent(checked.plan), roundTag: checked.roundTag, coordinator: coordinatorSession, round: msg.round });
            }
            seenTags.add(tagHex);
            lastRounds.set(hex(coordinatorSession), msg.round);
          } catch (err) {
            if (!(err instanceof PolicyViolation)) throw err;
            opts.onEvent?.({ type: 'refused', round: msg.round, field: err.field, message: err.message });
            if (opts.keepWaiting) return;
            throw err;
          }
          roundsJoined++;
          const info: RoundInfo = { round: msg.round, index: msg.index, n: c.n, dim: c.dim, bits: c.bits, task: msg.task, checked };
          opts.onEvent?.({ type: 'round-start', round: msg.round, index: msg.index, n: c.n });
          const input = await opts.input(info);
          client = opts.protocol.createClient(checked.config, msg.index, input, checked.config.mode === 'active' ? identity.secretKey : undefined);
          roundChecked = checked;
          await sendFrames(msg.round, await client.start());
          return;
        }
        case 'frame': {
          if (!client || msg.round !== currentRound) return; // stale frame of an earlier round
          // A client that finished its part (or aborted) reveals nothing more; a late Abort is harmless.
          if (client.stage === 'Done' || client.stage === 'Aborted') return;
          const out = await client.handle(msg.payload);
          const masking = out.some((o) => frameType(o.frame) === 'MaskedInput');
          if (opts.ledger && roundChecked?.plan && masking) {
            // No masked input leaves before its privacy cost is durably recorded.
            const rec = await opts.ledger.record({ event: unamplifiedRoundEvent(roundChecked.plan), roundTag: roundChecked.roundTag, coordinator: coordinatorSession!, round: msg.round });
            opts.onEvent?.({ type: 'privacy-spent', round: msg.round, epsilon: rec.epsilon, delta: opts.ledger.privacySpent().delta, participations: rec.participations, budget: rec.budget });
          }
          await sendFrames(msg.round, out);
          if (masking) opts.onEvent?.({ type: 'input-sent', round: msg.round });
          return;
        }
        case 'result':
          if (msg.ok && msg.included && msg.round === currentRound) roundsCompleted++;
          client = undefined;
          opts.onEvent?.({ type: 'round-end', round: msg.round, ok: msg.ok, included: msg.included, survivors: msg.survivors, reason: msg.reason });
          channel.send(encodeMessage({ t: 'ready' }));
          return;
        case 'bye':
          byeReason = msg.reason;
          finish();
          return;
        case 'error':
          finish(new Rejected(msg.code, msg.message));
          return;
      }
    };

    // A step still running when the connection drops (local training, a
    // stalled hook) is abandoned: the close must end the client promptly.
    let onClosed!: () => void;
    const closed = new Promise<void>((r) => (onClosed = r));
    channel.onMessage((frame) => {
      queue = queue.then(async () => {
        if (done) return;
        try {
          await Promise.race([onMessage(decodeServerMessage(frame)), closed]);
        } catch (err) {
          finish(err instanceof FedveilError ? err : new ProtocolAborted(`client failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
        }
      });
    });
    channel.onClose((info: CloseInfo) => {
      onClosed();
      // Let queued frames (e.g. an `error` or `bye` just before the close) be handled first.
      void queue.then(() => {
        if (done) return;
        const during = client ? ` during round ${currentRound}` : '';
        finish(new ProtocolAborted(`connection to the coordinator lost${during} (code ${info.code}${info.reason ? `: ${info.reason}` : ''})`, { code: 'CONNECTION_LOST' }));
      });
    });
  });
}

/** The `type` tag of a SecAgg frame (for progress events only; never trusted for routing). */
function frameType(frame: Uint8Array): string | undefined {
  try {
    const m: unknown = unpack(frame);
    return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' ? (m as { type: string }).type : undefined;
  } catch {
    return undefined;
  }
}

