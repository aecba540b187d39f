/**
 * Clients that stay (fl/reconnect.ts), in one process: the backoff with an
 * injected random source (no timing), which endings are retried, and the
 * loop against a real RoundCoordinator over loopback WebSocket (idle
 * timeout 4008 and rate-limit 4029 closes, then the round completes) and
 * against the malicious coordinator of the trust tests (a policy
 * violation or a replay across reconnects ends the client, a wire-version
 * mismatch is not retried). Waits are bounded by jest's timeout only; no
 * test asserts a duration.
 */
import WebSocket from 'ws';
import { MemoryTransport } from '../../src/transport/memory.js';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { webSocketConnector, type WebSocketLike } from '../../src/transport/ws-client.js';
import { nodeConnector } from '../../src/transport/node-client.js';
import { CloseCode, type Channel, type ServerTransport } from '../../src/transport/channel.js';
import { encodeMessage } from '../../src/transport/wire.js';
import { RoundCoordinator, type RoundCoordinatorOptions } from '../../src/fl/round-coordinator.js';
import { secAggProtocol } from '../../src/fl/secagg-protocol.js';
import { insecureDevelopmentPolicy, makeClientPolicy } from '../../src/fl/policy.js';
import { Rejected, type ParticipantEvent } from '../../src/fl/participant.js';
import {
  Backoff, DEFAULT_BACKOFF, classifyEnding, runReconnectingParticipant, startReconnectingParticipant,
  type ReconnectEvent, type ReconnectOptions, type ReconnectSummary,
} from '../../src/fl/reconnect.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { deterministicRandom, randomBytes, type RandomSource } from '../../src/crypto/random.js';
import { FedveilError, InvalidArgument, InvalidMessage, LedgerIntegrityError, PolicyViolation, ProtocolAborted } from '../../src/errors.js';
import { EvilCoordinator, sybil, type AttackRound } from './evil-coordinator.js';
import { thrown } from '../expect-error.js';

const constant = (byte: number): RandomSource => ({ fill: (b: Uint8Array) => void b.fill(byte) });
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('Backoff: exponential, full jitter, reset', () => {
  test('the cap doubles per attempt from initialMs up to maxMs; a source of all ones draws the cap, all zeros draws 0', () => {
    const high = new Backoff({ initialMs: 100, maxMs: 1000 }, constant(0xff));
    expect(Array.from({ length: 7 }, () => high.next())).toEqual([
      { attempt: 1, capMs: 100, delayMs: 100 },
      { attempt: 2, capMs: 200, delayMs: 200 },
      { attempt: 3, capMs: 400, delayMs: 400 },
      { attempt: 4, capMs: 800, delayMs: 800 },
      { attempt: 5, capMs: 1000, delayMs: 1000 },
      { attempt: 6, capMs: 1000, delayMs: 1000 },
      { attempt: 7, capMs: 1000, delayMs: 1000 },
    ]);
    const low = new Backoff({ initialMs: 100, maxMs: 1000 }, constant(0));
    expect(Array.from({ length: 5 }, () => low.next().delayMs)).toEqual([0, 0, 0, 0, 0]);
  });

  test('the cap never overflows: attempt 10000 is capped at maxMs', () => {
    const b = new Backoff({ initialMs: 1, maxMs: 2147483647 });
    expect(b.capFor(10000)).toBe(2147483647);
    expect(b.capFor(1)).toBe(1);
    expect(b.capFor(32)).toBe(2147483647);
  });

  test('every delay is an integer in [0, cap] and they vary (deterministic source)', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 5000 }, deterministicRandom(7));
    const delays = new Map<number, number[]>();
    for (let k = 0; k < 400; k++) {
      if (k % 10 === 0) b.reset();
      const s = b.next();
      // delayMs is the delay the backoff draws (from the injected source), not a measured time.
      expect(Number.isInteger(s.delayMs)).toBe(true);
      expect(s.delayMs).toBeGreaterThanOrEqual(0);
      expect(s.delayMs).toBeLessThanOrEqual(s.capMs);
      expect(s.capMs).toBe(Math.min(5000, 50 * 2 ** (s.attempt - 1)));
      delays.set(s.attempt, [...(delays.get(s.attempt) ?? []), s.delayMs]);
    }
    // 40 draws per attempt number: full jitter, not a fixed delay.
    for (const [, d] of delays) expect(new Set(d).size).toBeGreaterThan(20);
  });

  test('reset() starts again at attempt 1 with the initial cap', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 100 }, constant(0xff));
    b.next();
    b.next();
    b.next();
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toEqual({ attempt: 1, capMs: 10, delayMs: 10 });
  });

  test('defaults, and a maxMs below the default initial lowers the initial cap', () => {
    const d = new Backoff();
    expect([d.initialMs, d.maxMs]).toEqual([DEFAULT_BACKOFF.initialMs, DEFAULT_BACKOFF.maxMs]);
    expect([new Backoff({ maxMs: 400 }).initialMs, new Backoff({ initialMs: 60000 }).maxMs]).toEqual([400, 60000]);
  });

  test.each([
    [{ initialMs: 0 }], [{ initialMs: 1.5 }], [{ initialMs: 100, maxMs: 50 }], [{ maxMs: 2 ** 31 }], [{ initialMs: Number.NaN }],
  ])('bad bounds %j are an InvalidArgument with one line', (opts) => {
    const err = thrown(() => new Backoff(opts));
    expect(err).toBeInstanceOf(InvalidArgument);
    expect((err as Error).message).not.toMatch(/\n/);
  });
});

describe('classifyEnding: what is retried', () => {
  const lost = new ProtocolAborted('connection to the coordinator lost (code 1006)', { code: 'CONNECTION_LOST' });
  test.each<[string, unknown, object, boolean]>([
    ['a connection lost with 1006', lost, { close: { code: 1006, reason: '' } }, true],
    ['a coordinator going away (1001)', lost, { close: { code: CloseCode.GOING_AWAY, reason: 'coordinator shutting down' } }, true],
    ['a connection that could not be opened', new ProtocolAborted('cannot connect', { code: 'CONNECTION_FAILED' }), {}, true],
    ['IDLE_TIMEOUT', new Rejected('IDLE_TIMEOUT', 'silent'), {}, true],
    ['RATE_LIMITED', new Rejected('RATE_LIMITED', 'too fast'), {}, true],
    ['ALREADY_CONNECTED', new Rejected('ALREADY_CONNECTED', 'identity already connected'), {}, true],
    ['NOT_READY', new Rejected('NOT_READY', 'no ready in time'), {}, true],
    ['an unknown rejection code', new Rejected('SOMETHING_NEW', 'later'), {}, true],
    ['a round the server aborted', new ProtocolAborted('server aborted the round', { code: 'SERVER_ABORTED' }), {}, true],
    ['an invalid coordinator frame in a round', new InvalidMessage('bad', 'server'), { helloVersion: 1 }, true],
    ['NOT_ENROLLED', new Rejected('NOT_ENROLLED', 'identity is not enrolled'), {}, false],
    ['NOT_CERTIFIED', new Rejected('NOT_CERTIFIED', 'certificate expired'), {}, false],
    ['AUTH_FAILED', new Rejected('AUTH_FAILED', 'bad signature'), {}, false],
    ['ENROLMENT_LIMIT', new Rejected('ENROLMENT_LIMIT', 'full'), {}, false],
    ['FRAME_BUDGET', new Rejected('FRAME_BUDGET', 'too many'), {}, false],
    ['a close 4003 without its error message', lost, { close: { code: CloseCode.NOT_ENROLLED, reason: 'NOT_ENROLLED' } }, false],
    ['another wire version', new InvalidMessage('coordinator speaks wire version 9, this client 1', 'coordinator'), { helloVersion: 9 }, false],
    ['a policy violation', new PolicyViolation('authorities', 'uncertified'), {}, false],
    ['a ledger that does not verify', new LedgerIntegrityError('bad line', 3), {}, false],
    ['a failure of the client itself', new ProtocolAborted('client failed: ENOSPC'), {}, false],
    ['a non-fedveil error', new Error('boom'), {}, false],
  ])('%s', (_name, err, facts, retry) => {
    expect(classifyEnding(err, facts).retry).toBe(retry);
    expect(classifyEnding(err, facts).code).toBe(err instanceof FedveilError ? err.code : 'ERROR');
  });
});

const DIM = 8;
const BITS = 16;
const input = (): Uint32Array => new Uint32Array(DIM).map((_, i) => (i * 31 + 5) & 0xffff);

interface Client {
  readonly identity: ReturnType<typeof ed25519KeyPair>;
  readonly reconnects: ReconnectEvent[];
  readonly events: ParticipantEvent[];
  readonly done: Promise<ReconnectSummary>;
  readonly outcome: Promise<ReconnectSummary | unknown>;
  stop(): void;
  connects(): number;
  /** Resolves after the n-th `welcome`. */
  welcomed(n: number): Promise<void>;
}

function client(connect: (attempt: number) => Promise<Channel>, extra: Partial<ReconnectOptions> = {}): Client {
  const identity = ed25519KeyPair();
  const reconnects: ReconnectEvent[] = [];
  const events: ParticipantEvent[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let connects = 0;
  const run = startReconnectingParticipant({
    connect: () => connect(++connects),
    identity,
    protocol: secAggProtocol,
    policy: insecureDevelopmentPolicy(),
    enrolToken: 'tok',
    input,
    backoff: { initialMs: 20, maxMs: 200 },
    onReconnect: (ev) => reconnects.push(ev),
    onEvent: (ev) => {
      events.push(ev);
      const n = events.filter((e) => e.type === 'welcome').length;
      for (const w of waiters.filter((x) => x.n <= n)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    },
    ...extra,
  });
  return {
    identity, reconnects, events, done: run.done, outcome: run.done.then((s) => s, (e: unknown) => e), stop: run.stop, connects: () => connects,
    welcomed: (n) => new Promise<void>((resolve) => {
      if (events.filter((e) => e.type === 'welcome').length >= n) resolve();
      else waiters.push({ n, resolve });
    }),
  };
}

async function coordinator(server: ServerTransport, over: Partial<RoundCoordinatorOptions> = {}): Promise<RoundCoordinator> {
  const c = new RoundCoordinator({
    transport: server, protocol: secAggProtocol, enrolment: { enrolled: new Set(), token: 'tok' }, dim: DIM, bits: BITS,
    minClients: 2, rounds: 1, mode: 'semi-honest', stageTimeoutMs: 600000, readyWaitMs: 0, ...over,
  });
  await c.start();
  return c;
}

describe('the loop against a real coordinator over loopback WebSocket', () => {
  let transport: WebSocketServerTransport | undefined;
  afterEach(async () => {
    await transport?.close();
    transport = undefined;
  });

  test('an idle timeout (4008) is followed by a reconnect, then the client completes the round and ends on bye', async () => {
    transport = new WebSocketServerTransport({ host: '127.0.0.1', port: 0, idleTimeoutMs: 1000 });
    const coord = await coordinator(transport);
    const url = transport.url();
    // The first connection never answers the coordinator's pings, so it falls silent; later ones do.
    const mute = webSocketConnector(url, (u) => new WebSocket(u, { autoPong: false }) as unknown as WebSocketLike);
    const a = client((n) => (n === 1 ? mute() : nodeConnector(url)()));
    await a.welcomed(2);
    expect(a.reconnects[0]).toMatchObject({ attempt: 1, code: 'REJECTED_IDLE_TIMEOUT' });
    expect(a.reconnects[0]!.reason).toMatch(/IDLE_TIMEOUT/);
    // The drawn delay (planned, not measured) respects its cap.
    expect(a.reconnects[0]!.delayMs).toBeLessThanOrEqual(a.reconnects[0]!.capMs);
    const b = client(() => nodeConnector(url)());
    const [sa, sb] = await Promise.all([a.done, b.done]);
    await coord.finished;
    expect(sa).toMatchObject({ roundsCompleted: 1, reason: 'all rounds completed', stopped: false });
    expect(sa.sessions).toBeGreaterThanOrEqual(2);
    expect(sb).toMatchObject({ roundsCompleted: 1, stopped: false });
  }, 60000);

  test('a rate-limit close (4029) is followed by a reconnect, then the client completes the round', async () => {
    // The flood guard's clock stands still (burst 1: the client's second frame is over the limit) until the
    // first reconnect; from then on it races ahead, so the bucket is always full again.
    let fast = false;
    let t = 0;
    const now = (): number => (fast ? (t += 1e9) : t);
    transport = new WebSocketServerTransport({ host: '127.0.0.1', port: 0, idleTimeoutMs: 0, messagesPerSecond: 1, burst: 1, now });
    const coord = await coordinator(transport);
    const url = transport.url();
    const a = client(() => nodeConnector(url)(), { onReconnect: (ev) => (fast = true, a.reconnects.push(ev)) });
    await a.welcomed(2);
    expect(a.reconnects).toEqual([expect.objectContaining({ attempt: 1, code: 'REJECTED_RATE_LIMITED' })]);
    const b = client(() => nodeConnector(url)());
    const [sa] = await Promise.all([a.done, b.done]);
    await coord.finished;
    expect(sa).toMatchObject({ roundsCompleted: 1, reconnects: 1, stopped: false });
  }, 60000);

  test('a round the protocol aborts (too few survivors) ends that connection only: the client reconnects and takes part in the next round', async () => {
    transport = new WebSocketServerTransport({ host: '127.0.0.1', port: 0 });
    // `rounds` counts completed rounds: the aborted one does not.
    const coord = await coordinator(transport, { minClients: 3, rounds: 1 });
    const url = transport.url();
    const connect = (): Promise<Channel> => nodeConnector(url)();
    let stalled = 0;
    // Two members hang before their ShareKeys, then leave: one share holder is left, below t = 2.
    const hang = (type: string): Promise<void> | undefined => (type === 'ShareKeys' ? (stalled++, new Promise<void>(() => undefined)) : undefined);
    const a = client(connect);
    const b = client(connect, { beforeSend: hang });
    const c = client(connect, { beforeSend: hang });
    for (let i = 0; i < 3000 && stalled < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stalled).toBe(2);
    b.stop();
    c.stop();
    await a.welcomed(2);
    expect(a.reconnects).toEqual([expect.objectContaining({ attempt: 1, code: 'SERVER_ABORTED' })]);
    expect(a.events).toContainEqual(expect.objectContaining({ type: 'round-start', round: 1 }));
    const more = [client(connect), client(connect)];
    const [sa] = await Promise.all([a.done, ...more.map((m) => m.done), b.done, c.done]);
    await coord.finished;
    expect(sa).toMatchObject({ roundsJoined: 2, roundsCompleted: 1, sessions: 2, stopped: false, reason: 'all rounds completed' });
    expect(a.events).toContainEqual(expect.objectContaining({ type: 'round-end', round: 2, ok: true, included: true }));
  }, 60000);

  test('NOT_ENROLLED ends the client at once: one connection, no reconnect', async () => {
    transport = new WebSocketServerTransport({ host: '127.0.0.1', port: 0 });
    await coordinator(transport, { enrolment: { enrolled: new Set() } });
    const url = transport.url();
    const a = client(() => nodeConnector(url)());
    const err = await a.outcome;
    expect(err).toBeInstanceOf(Rejected);
    expect((err as Rejected).code).toBe('REJECTED_NOT_ENROLLED');
    expect(a.connects()).toBe(1);
    expect(a.reconnects).toEqual([]);
  }, 60000);

  test('stop() while connected closes the connection and resolves with stopped: true', async () => {
    transport = new WebSocketServerTransport({ host: '127.0.0.1', port: 0 });
    const disconnected: number[] = [];
    await coordinator(transport, { onEvent: (ev) => void (ev.type === 'disconnected' && disconnected.push(ev.code)) });
    const url = transport.url();
    const a = client(() => nodeConnector(url)());
    await a.welcomed(1);
    a.stop();
    expect(await a.done).toMatchObject({ stopped: true, reason: 'stopped', sessions: 1, reconnects: 0 });
    for (let i = 0; i < 100 && disconnected.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(disconnected).toEqual([CloseCode.NORMAL]);
  }, 60000);
});

describe('the loop without a coordinator', () => {
  test('connection failures are retried with growing caps until the signal stops it (in the wait)', async () => {
    const controller = new AbortController();
    const seen: ReconnectEvent[] = [];
    const failing = (): Promise<Channel> => Promise.reject(new ProtocolAborted('cannot connect to ws://127.0.0.1:9/', { code: 'CONNECTION_FAILED' }));
    const done = runReconnectingParticipant({
      connect: failing, identity: ed25519KeyPair(), protocol: secAggProtocol, input, rng: constant(0),
      backoff: { initialMs: 1, maxMs: 8 }, signal: controller.signal,
      onReconnect: (ev) => {
        seen.push(ev);
        if (seen.length === 6) controller.abort();
      },
    });
    expect(await done).toMatchObject({ stopped: true, reconnects: 6, sessions: 0 });
    expect(seen.map((e) => [e.attempt, e.capMs, e.delayMs, e.code])).toEqual([
      [1, 1, 0, 'CONNECTION_FAILED'], [2, 2, 0, 'CONNECTION_FAILED'], [3, 4, 0, 'CONNECTION_FAILED'],
      [4, 8, 0, 'CONNECTION_FAILED'], [5, 8, 0, 'CONNECTION_FAILED'], [6, 8, 0, 'CONNECTION_FAILED'],
    ]);
    expect(seen[0]!.reason).toBe('cannot connect to ws://127.0.0.1:9/');
  });

  test('a long wait is cut short by stop()', async () => {
    const a = client(() => Promise.reject(new ProtocolAborted('refused', { code: 'CONNECTION_FAILED' })), { backoff: { initialMs: 600000, maxMs: 600000 }, rng: constant(0xff) });
    for (let i = 0; i < 100 && a.reconnects.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(a.reconnects[0]!.delayMs).toBe(600000);
    a.stop();
    expect(await a.done).toMatchObject({ stopped: true, reconnects: 1 });
  });

  test('a connector that throws instead of rejecting is handled the same way (here: not a fedveil error, so not retried)', async () => {
    const a = client(() => {
      throw new Error('no such host');
    });
    expect(((await a.outcome) as Error).message).toBe('no such host');
    expect(a.reconnects).toEqual([]);
  });

  test('reconnect: false is the old behaviour: the first lost connection rejects', async () => {
    const a = client(() => Promise.reject(new ProtocolAborted('refused', { code: 'CONNECTION_FAILED' })), { reconnect: false });
    expect(((await a.outcome) as ProtocolAborted).code).toBe('CONNECTION_FAILED');
    expect(a.reconnects).toEqual([]);
  });
});

describe('the loop against a malicious coordinator (the real wire format over the memory transport)', () => {
  const authority = ed25519KeyPair();

  test('a policy violation ends the client: no retry loop, nothing sent', async () => {
    const transport = new MemoryTransport();
    const evil = new EvilCoordinator();
    await evil.listen(transport);
    const policy = makeClientPolicy({ authorities: [hexOf(authority.publicKey)], minRoster: 5, minThreshold: 3, colluders: 0, minHonest: 3 });
    const a = client(() => transport.connect(), { policy });
    const [victim] = await evil.waitReady(1);
    const sybils = Array.from({ length: 9 }, () => sybil());
    const round: AttackRound = {
      round: 1, n: 10, threshold: 6, mode: 'active', dim: DIM, bits: BITS, task: { kind: 'vector' },
      entries: [{ id: 1, key: a.identity.publicKey, certificate: new Uint8Array(0) }, ...sybils.map((s, i) => ({ id: i + 2, key: s.keys.publicKey, certificate: s.certificate }))],
    };
    evil.sendRound(round, [victim!], [1]);
    const err = await a.outcome;
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).field).toBe('authorities');
    expect(a.connects()).toBe(1);
    expect(a.reconnects).toEqual([]);
    expect(victim!.sent).toEqual([]);
  });

  test('the replay guard holds across reconnects: the same round after a reconnect to the same coordinator session is refused', async () => {
    const transport = new MemoryTransport();
    const evil = new EvilCoordinator();
    await evil.listen(transport);
    const a = client(() => transport.connect());
    const [first] = await evil.waitReady(1);
    const round: AttackRound = {
      round: 3, n: 2, threshold: 2, mode: 'semi-honest', dim: DIM, bits: BITS, task: { kind: 'vector' },
      entries: [{ id: 1, key: a.identity.publicKey, certificate: new Uint8Array(0) }, { id: 2, key: sybil().keys.publicKey, certificate: new Uint8Array(0) }],
    };
    const seed = evil.sendRound(round, [first!], [1]);
    for (let i = 0; i < 200 && first!.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(first!.sent.map((s) => s.type)).toEqual(['AdvertiseKeys']);
    // The coordinator drops the connection; the client comes back to the same session.
    first!.channel.close(CloseCode.ABNORMAL, '');
    await a.welcomed(2);
    const second = (await evil.waitReady(2)).find((v) => v !== first)!;
    evil.sendRound({ ...round, seed }, [second], [1]);
    const err = await a.outcome;
    expect(err).toBeInstanceOf(PolicyViolation);
    expect((err as PolicyViolation).field).toBe('replay');
    expect(a.reconnects.map((e) => e.code)).toEqual(['CONNECTION_LOST']);
    expect(second.sent).toEqual([]);
  });

  test('a round number that does not advance after a reconnect is refused too; a new coordinator session starts afresh', async () => {
    const transport = new MemoryTransport();
    let evil = new EvilCoordinator();
    await evil.listen(transport);
    const a = client(() => transport.connect());
    const [first] = await evil.waitReady(1);
    const peer = sybil().keys.publicKey;
    const round = (n: number): AttackRound => ({
      round: n, n: 2, threshold: 2, mode: 'semi-honest', dim: DIM, bits: BITS, task: { kind: 'vector' },
      entries: [{ id: 1, key: a.identity.publicKey, certificate: new Uint8Array(0) }, { id: 2, key: peer, certificate: new Uint8Array(0) }],
    });
    evil.sendRound(round(5), [first!], [1]);
    for (let i = 0; i < 200 && first!.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    // A "restarted" coordinator: a new session id on the same transport. Its round 1 is a new round.
    const old = evil;
    evil = new EvilCoordinator();
    await evil.listen(transport);
    old.victims[0]!.channel.close(CloseCode.ABNORMAL, '');
    const [fresh] = await evil.waitReady(1);
    evil.sendRound(round(1), [fresh!], [1]);
    for (let i = 0; i < 200 && fresh!.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fresh!.sent.map((s) => s.type)).toEqual(['AdvertiseKeys']);
    // Back to the first session (same session id): its round 4 is not after its round 5.
    const evilAgain = old;
    await evilAgain.listen(transport);
    fresh!.channel.close(CloseCode.ABNORMAL, '');
    const again = (await evilAgain.waitReady(2)).find((v) => v !== first)!;
    evilAgain.sendRound(round(4), [again], [1]);
    const err = await a.outcome;
    expect((err as PolicyViolation).field).toBe('replay');
    expect((err as Error).message).toMatch(/round 4 is not after round 5/);
  });

  test('an accepted connection resets the backoff: failures count up, a welcome starts again at attempt 1', async () => {
    const transport = new MemoryTransport();
    const evil = new EvilCoordinator();
    await evil.listen(transport);
    const refuse = (): Promise<Channel> => Promise.reject(new ProtocolAborted('refused', { code: 'CONNECTION_FAILED' }));
    // Attempts 1, 2 and 4 fail to connect; 3 and 5 are welcomed.
    const a = client((n) => (n === 3 || n === 5 ? transport.connect() : refuse()));
    await a.welcomed(1);
    evil.victims[0]!.channel.close(CloseCode.ABNORMAL, '');
    await a.welcomed(2);
    a.stop();
    expect(await a.done).toMatchObject({ stopped: true, sessions: 2, reconnects: 4 });
    expect(a.reconnects.map((e) => [e.attempt, e.code])).toEqual([[1, 'CONNECTION_FAILED'], [2, 'CONNECTION_FAILED'], [1, 'CONNECTION_LOST'], [2, 'CONNECTION_FAILED']]);
  });

  test('another wire version is not retried', async () => {
    const transport = new MemoryTransport();
    await transport.listen((ch) => ch.send(encodeMessage({ t: 'hello', v: 99, nonce: randomBytes(32), session: randomBytes(32), name: 'future' })));
    const a = client(() => transport.connect());
    const err = await a.outcome;
    expect(err).toBeInstanceOf(InvalidMessage);
    expect((err as Error).message).toMatch(/wire version 99/);
    expect(a.connects()).toBe(1);
  });
});
