/**
 * The connection limits and the protocol-aware admission rules over the
 * real WebSocket transport on loopback, in one process. Each attacker is a
 * raw peer (raw-client.ts) sending exactly the input that one limit is
 * about, in the real wire format; each test asserts the `error` code and
 * the close code that limit is documented with (docs/network.md, Limits).
 * Waits are on events only; the flood-guard tests freeze the guard's clock,
 * so no token is ever refilled and the counts are exact.
 */
import { ed25519KeyPair } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { InvalidMessage } from '../../src/errors.js';
import { CloseCode, type Channel } from '../../src/transport/channel.js';
import { RoundCoordinator, type CoordinatorEvent, type RoundCoordinatorOptions, type Enrolment, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { FloodGuard } from '../../src/transport/limits.js';
import { nodeConnector } from '../../src/transport/node-client.js';
import { runParticipant } from '../../src/fl/participant.js';
import { hex, type Identity } from '../../src/transport/session.js';
import { decodeClientMessage, encodeMessage } from '../../src/transport/wire.js';
import { WebSocketServerTransport, type WebSocketServerOptions } from '../../src/transport/ws-server.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
import { protocolUnderTest } from './protocol-under-test.js';
import { RawClient } from './raw-client.js';
/** Token-enrolled, uncertified test clients: the development policy (the attack tests use real policies). */
const devPolicy = insecureDevelopmentPolicy();

const DIM = 8;
const BITS = 16;

function key(i: number): Identity {
  return ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(i)));
}

interface Harness {
  coordinator: RoundCoordinator;
  transport: WebSocketServerTransport;
  url: string;
  events: CoordinatorEvent[];
  records: RoundRecord[];
  /** Resolves with the first event (past or future) matching `pred`. */
  event(pred: (e: CoordinatorEvent) => boolean): Promise<CoordinatorEvent>;
}

async function harness(enrolment: Enrolment, coord: Partial<RoundCoordinatorOptions> = {}, server: WebSocketServerOptions = {}): Promise<Harness> {
  const transport = new WebSocketServerTransport({ port: 0, idleTimeoutMs: 0, ...server });
  const events: CoordinatorEvent[] = [];
  const records: RoundRecord[] = [];
  const waiters: Array<() => void> = [];
  const coordinator = new RoundCoordinator({
    transport,
    protocol: protocolUnderTest,
    enrolment,
    dim: DIM,
    bits: BITS,
    minClients: 2,
    onRound: (r) => void records.push(r),
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.splice(0)) w();
    },
    ...coord,
  });
  await coordinator.start();
  const event = (pred: (e: CoordinatorEvent) => boolean): Promise<CoordinatorEvent> =>
    new Promise((resolve) => {
      const check = (): void => {
        const e = events.find(pred);
        if (e) resolve(e);
        else waiters.push(check);
      };
      check();
    });
  return { coordinator, transport, url: transport.url(), events, records, event };
}

function enrolled(...ids: Identity[]): Enrolment {
  return { enrolled: new Set(ids.map((k) => hex(k.publicKey))) };
}

/** A channel whose outgoing frames pass through `pass` first (false: the frame is dropped). */
function filtered(channel: Channel, pass: (frame: Uint8Array) => boolean): Channel {
  return {
    get remote() {
      return channel.remote;
    },
    get closed() {
      return channel.closed;
    },
    send: (frame) => {
      if (pass(frame)) channel.send(frame);
    },
    close: (code, reason) => channel.close(code, reason),
    onMessage: (l) => channel.onMessage(l),
    onClose: (l) => channel.onClose(l),
  };
}

/** A channel that records every frame its participant sends (what a network observer captures). */
function recording(channel: Channel, sent: Uint8Array[]): Channel {
  return filtered(channel, (frame) => (sent.push(frame.slice()), true));
}

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) await h.coordinator.stop();
  open = [];
});
async function start(...args: Parameters<typeof harness>): Promise<Harness> {
  const h = await harness(...args);
  open.push(h);
  return h;
}

describe('replay and identity take-over', () => {
  test('an exact envelope replay (same sequence number) on the same connection is closed with REPLAY', async () => {
    const x = key(1);
    const h = await start(enrolled(x));
    const c = new RawClient(h.url);
    await c.auth(x);
    await c.next('welcome');
    c.send({ t: 'ready' });
    const first = c.envelope(x, 1, new Uint8Array([1, 2, 3]));
    // The same bytes again: valid signature, but sequence 1 is not above the last accepted (1).
    c.sendBytes(first);
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.REPLAY);
    expect(closed.errors).toEqual(['REPLAY']);
    expect(await h.event((e) => e.type === 'rejected')).toMatchObject({ code: 'REPLAY', message: 'sequence 1 not above 1' });
  });

  test('an envelope captured on a live connection, replayed on a second connection of the same identity: ALREADY_CONNECTED (the first stays in); replayed on its next connection: BAD_SIGNATURE', async () => {
    const x = key(2);
    const y = key(3);
    const h = await start(enrolled(x, y), { minClients: 2, rounds: 2 });
    const captured: Uint8Array[] = [];
    let attackDone!: () => void;
    const attacked = new Promise<void>((r) => (attackDone = r));
    let inRound2!: () => void;
    const xInRound2 = new Promise<void>((r) => (inRound2 = r));
    const xRun = runParticipant({ policy: devPolicy,
      channel: recording(await nodeConnector(h.url)(), captured),
      identity: x,
      protocol: protocolUnderTest,
      input: async ({ round, dim }) => {
        // Round 2 waits for the attack: x's connection is live and on the roster throughout.
        if (round === 2) {
          inRound2();
          await attacked;
        }
        return new Uint32Array(dim).fill(7);
      },
    });
    const yRun = runParticipant({ policy: devPolicy, channel: await nodeConnector(h.url)(), identity: y, protocol: protocolUnderTest, input: ({ dim }) => new Uint32Array(dim).fill(5) });
    await xInRound2;

    // x's first envelope (AdvertiseKeys of round 1, sequence 1) as captured on its connection.
    const envBytes = captured.find((f) => decodeClientMessage(f).t === 'env')!;
    expect(decodeClientMessage(envBytes)).toMatchObject({ t: 'env', seq: 1, round: 1 });

    // A second connection as x (the attacker holds x's key and answers the
    // challenge correctly), the captured envelope right behind its auth: the
    // auth is refused because x is connected, so the envelope is never
    // looked at (one error only).
    const thief = new RawClient(h.url);
    await thief.auth(x);
    thief.sendBytes(envBytes);
    const stolen = await thief.closed;
    expect(stolen.code).toBe(CloseCode.ALREADY_CONNECTED);
    expect(stolen.errors).toEqual(['ALREADY_CONNECTED']);
    expect(h.coordinator.status().clients.authenticated).toBe(2);
    attackDone();

    // The first connection is unaffected: x completes both rounds, its input in both sums.
    const [xs, ys] = await Promise.all([xRun, yRun]);
    expect(xs.roundsCompleted).toBe(2);
    expect(ys.roundsCompleted).toBe(2);
    for (const r of h.records) {
      expect([...r.survivors].sort()).toEqual([hex(x.publicKey), hex(y.publicKey)].sort());
      expect(Array.from(r.sum)).toEqual(new Array(DIM).fill(12));
    }
    expect(h.events.filter((e) => e.type === 'rejected').map((e) => (e as { code: string }).code)).toEqual(['ALREADY_CONNECTED']);
    await h.event((e) => e.type === 'disconnected' && e.identity === hex(x.publicKey));

    // x's identity on its next connection (the first is gone, so no
    // ALREADY_CONNECTED): sequence 1 is above this connection's 0, so it is
    // not a REPLAY; the signature covers the first connection's channel
    // binding (its nonce), so it does not verify here: BAD_SIGNATURE.
    const again = new RawClient(h.url);
    await again.auth(x);
    await again.next('welcome');
    again.send({ t: 'ready' });
    again.sendBytes(envBytes);
    const refused = await again.closed;
    expect(refused.code).toBe(CloseCode.BAD_SIGNATURE);
    expect(refused.errors).toEqual(['BAD_SIGNATURE']);
  });
});

describe('connection caps', () => {
  test('total connection cap: the connection beyond maxConnections gets SERVER_FULL; a freed slot is usable again', async () => {
    const h = await start(enrolled(), {}, { maxConnections: 2 });
    const a = new RawClient(h.url);
    const b = new RawClient(h.url);
    await Promise.all([a.next('hello'), b.next('hello')]);
    const c = new RawClient(h.url);
    const full = await c.closed;
    expect(full.code).toBe(CloseCode.SERVER_FULL);
    expect(full.errors).toEqual(['SERVER_FULL']);
    expect(c.messages.some((m) => m.t === 'hello')).toBe(false);
    a.close();
    await h.event((e) => e.type === 'disconnected');
    const d = new RawClient(h.url);
    await d.next('hello');
  });

  test('unauthenticated connections per address: the one beyond the cap gets ADDRESS_LIMIT; other addresses and authenticated connections do not count', async () => {
    const x = key(4);
    const h = await start(enrolled(x), { authTimeoutMs: 600000 }, { maxUnauthenticatedPerAddress: 2 });
    const a = new RawClient(h.url);
    const b = new RawClient(h.url);
    await Promise.all([a.next('hello'), b.next('hello')]);
    const c = new RawClient(h.url);
    const limited = await c.closed;
    expect(limited.code).toBe(CloseCode.ADDRESS_LIMIT);
    expect(limited.errors).toEqual(['ADDRESS_LIMIT']);
    // Another loopback address has its own count.
    const other = new RawClient(h.url, { localAddress: '127.0.0.2' });
    await other.next('hello');
    // Once `a` has authenticated it no longer counts against 127.0.0.1.
    await a.auth(x);
    await a.next('welcome');
    const d = new RawClient(h.url);
    await d.next('hello');
    expect(a.ws.readyState).toBe(a.ws.OPEN);
  });

  test('token enrolment cap: the token registers at most maxTokenEnrolments identities (ENROLMENT_LIMIT); registered ones reconnect', async () => {
    const registered: string[] = [];
    const h = await start({ enrolled: new Set(), token: 'tok', maxTokenEnrolments: 2, onEnrol: (id) => registered.push(id) });
    const first = new RawClient(h.url);
    await first.auth(key(10), 'tok');
    await first.next('welcome');
    const second = new RawClient(h.url);
    await second.auth(key(11), 'tok');
    await second.next('welcome');
    const third = new RawClient(h.url);
    await third.auth(key(12), 'tok');
    const refused = await third.closed;
    expect(refused.code).toBe(CloseCode.ENROLMENT_LIMIT);
    expect(refused.errors).toEqual(['ENROLMENT_LIMIT']);
    // A wrong token is still just NOT_ENROLLED (the cap reveals nothing to non-holders).
    const wrong = new RawClient(h.url);
    await wrong.auth(key(13), 'nope');
    expect(await wrong.closed).toMatchObject({ code: CloseCode.NOT_ENROLLED, errors: ['NOT_ENROLLED'] });
    // An identity the token already registered is enrolled: it reconnects at the cap.
    first.close();
    await h.event((e) => e.type === 'disconnected' && e.identity === hex(key(10).publicKey));
    const back = new RawClient(h.url);
    await back.auth(key(10), 'tok');
    await back.next('welcome');
    expect(registered).toEqual([hex(key(10).publicKey), hex(key(11).publicKey)]);
  });
});

describe('flood guard (frozen clock: no refill)', () => {
  test('pings after authentication beyond the ping burst: PING_FLOOD', async () => {
    const x = key(5);
    const h = await start(enrolled(x), {}, { pingsPerSecond: 1, pingBurst: 5, now: () => 0 });
    const c = new RawClient(h.url);
    await c.auth(x);
    await c.next('welcome');
    for (let i = 0; i < 5; i++) c.ws.ping();
    // All five answered: the connection is alive after exactly the burst.
    await c.waitPongs(5);
    c.ws.ping();
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.PING_FLOOD);
    expect(closed.errors).toEqual(['PING_FLOOD']);
  });

  test('frames before authentication beyond maxPreAuthFrames (pings count): PRE_AUTH_FLOOD', async () => {
    const h = await start(enrolled(), { authTimeoutMs: 600000 }, { maxPreAuthFrames: 3, now: () => 0 });
    const c = new RawClient(h.url);
    await c.next('hello');
    for (let i = 0; i < 3; i++) c.ws.ping();
    await c.waitPongs(3);
    c.ws.ping();
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.PRE_AUTH_FLOOD);
    expect(closed.errors).toEqual(['PRE_AUTH_FLOOD']);
  });

  test('frames per second beyond the bucket (control frames included): RATE_LIMITED', async () => {
    const x = key(6);
    const h = await start(enrolled(x), {}, { messagesPerSecond: 1, burst: 4, pingsPerSecond: 0, now: () => 0 });
    const c = new RawClient(h.url);
    await c.auth(x); // frame 1
    await c.next('welcome');
    c.send({ t: 'ready' }); // frame 2
    c.ws.ping(); // 3
    c.ws.ping(); // 4
    await c.waitPongs(2);
    c.ws.ping(); // 5: over
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.RATE_LIMITED);
    expect(closed.errors).toEqual(['RATE_LIMITED']);
  });

  test('an answer to the server\'s own ping is free; unsolicited pongs count like pings', () => {
    const g = new FloodGuard({ messagesPerSecond: 0, burst: 0, pingsPerSecond: 1, pingBurst: 2, maxPreAuthFrames: 0 }, () => 0);
    g.pingSent();
    expect(g.pong()).toBeUndefined(); // solicited
    expect(g.pong()).toBeUndefined(); // unsolicited: token 1
    expect(g.ping()).toBeUndefined(); // token 2
    expect(g.pong()).toMatchObject({ closeCode: CloseCode.PING_FLOOD, code: 'PING_FLOOD' });
  });
});

describe('protocol-aware budget and readiness', () => {
  test(`per-round frame budget: envelope framesPerRound + 1 is closed with FRAME_BUDGET (default 10)`, async () => {
    const x = key(7);
    const h = await start(enrolled(x));
    const c = new RawClient(h.url);
    await c.auth(x);
    await c.next('welcome');
    c.send({ t: 'ready' });
    for (let i = 0; i < 11; i++) c.envelope(x, 1, new Uint8Array([i]));
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.FRAME_BUDGET);
    expect(closed.errors).toEqual(['FRAME_BUDGET']);
    // The first ten were accepted: the eleventh is the one refused.
    expect(await h.event((e) => e.type === 'rejected')).toMatchObject({ code: 'FRAME_BUDGET', message: 'envelope 11 exceeds the budget of 10 per round' });
  });

  test('an envelope before ready, and a second ready, are over budget (FRAME_BUDGET)', async () => {
    const x = key(8);
    const y = key(9);
    const h = await start(enrolled(x, y));
    const early = new RawClient(h.url);
    await early.auth(x);
    await early.next('welcome');
    early.envelope(x, 1, new Uint8Array([1]));
    expect(await early.closed).toMatchObject({ code: CloseCode.FRAME_BUDGET, errors: ['FRAME_BUDGET'] });
    const twice = new RawClient(h.url);
    await twice.auth(y);
    await twice.next('welcome');
    twice.send({ t: 'ready' });
    twice.send({ t: 'ready' });
    expect(await twice.closed).toMatchObject({ code: CloseCode.FRAME_BUDGET, errors: ['FRAME_BUDGET'] });
    const reasons = h.events.flatMap((e) => (e.type === 'rejected' ? [e.message] : []));
    expect(reasons).toEqual(['envelope before ready', 'ready sent twice in one round']);
  });

  test('20 idle token identities (authenticated, never ready) neither join the roster nor stall the honest round', async () => {
    const honest = Array.from({ length: 5 }, (_, i) => key(20 + i));
    const h = await start({ enrolled: new Set(), token: 'tok' }, { minClients: 5, rounds: 1 });
    const idle = Array.from({ length: 20 }, (_, i) => new RawClient(h.url));
    await Promise.all(idle.map(async (c, i) => {
      await c.auth(key(100 + i), 'tok');
      await c.next('welcome');
    }));
    // 20 authenticated clients, minClients 5: no round may open from them.
    expect(h.coordinator.status()).toMatchObject({ state: 'waiting', clients: { authenticated: 20 } });
    const summaries = await Promise.all(
      honest.map(async (identity, i) => runParticipant({ policy: devPolicy, channel: await nodeConnector(h.url)(), identity, protocol: protocolUnderTest, enrolToken: 'tok', input: ({ dim }) => new Uint32Array(dim).fill(i + 1) })),
    );
    expect(summaries.map((s) => s.roundsCompleted)).toEqual([1, 1, 1, 1, 1]);
    const want = honest.map((k) => hex(k.publicKey)).sort();
    expect([...h.records[0]!.roster].sort()).toEqual(want);
    expect([...h.records[0]!.survivors].sort()).toEqual(want);
    expect(Array.from(h.records[0]!.sum)).toEqual(new Array(DIM).fill(15));
    // The idle ones were never on a roster (no `round` message) and are still connected.
    for (const c of idle) {
      expect(c.messages.some((m) => m.t === 'round')).toBe(false);
      expect(c.ws.readyState).toBe(c.ws.OPEN);
    }
  });

  test('the next round waits for the ready of every member of the last one: a cohort is never split by whoever answers first', async () => {
    const ids = Array.from({ length: 4 }, (_, i) => key(40 + i));
    // minClients 2 of 4: without the wait, the first two readies after a round would open the next one alone.
    const h = await start(enrolled(...ids), { minClients: 2, rounds: 3, readyWaitMs: 600000 });
    await Promise.all(ids.map(async (identity) => runParticipant({ policy: devPolicy, channel: await nodeConnector(h.url)(), identity, protocol: protocolUnderTest, input: ({ dim }) => new Uint32Array(dim) })));
    expect(h.records).toHaveLength(3);
    for (let k = 1; k < 3; k++) expect(h.records[k]!.roster).toEqual(expect.arrayContaining(h.records[k - 1]!.roster));
  });

  test('a member that does not say ready after its round is left out once readyWaitMs has passed; the others go on without it', async () => {
    const [r, a1, a2, b] = [50, 51, 52, 53].map(key) as [Identity, Identity, Identity, Identity];
    const h = await start(enrolled(r, a1, a2, b), { minClients: 3, rounds: 2, readyWaitMs: 200, readyTimeoutMs: 600000 });
    const run = (identity: Identity, channel: Channel) => runParticipant({ policy: devPolicy, channel, identity, protocol: protocolUnderTest, input: ({ dim }) => new Uint32Array(dim).fill(1) });
    // r takes part in round 1 like any client, but its `ready` after the result never leaves.
    let readies = 0;
    const muted = filtered(await nodeConnector(h.url)(), (frame) => decodeClientMessage(frame).t !== 'ready' || readies++ === 0);
    const rRun = run(r, muted);
    await h.event((e) => e.type === 'ready' && e.identity === hex(r.publicKey));
    const firstTwo = [a1, a2].map(async (k) => run(k, await nodeConnector(h.url)()));
    await h.event((e) => e.type === 'round-start' && e.round === 1);
    const late = run(b, await nodeConnector(h.url)());
    const [rs, s1, s2, sb] = await Promise.all([rRun, ...firstTwo, late]);
    const hexes = (ks: Identity[]) => ks.map((k) => hex(k.publicKey)).sort();
    expect([...h.records[0]!.roster].sort()).toEqual(hexes([r, a1, a2]));
    expect([...h.records[1]!.roster].sort()).toEqual(hexes([a1, a2, b]));
    // r stayed connected throughout (it hears bye), it just was not ready.
    expect(rs).toMatchObject({ roundsJoined: 1, roundsCompleted: 1, reason: 'all rounds completed' });
    expect([s1!.roundsCompleted, s2!.roundsCompleted, sb!.roundsCompleted]).toEqual([2, 2, 1]);
  });

  // Short deadlines, but each test only needs its one deadline to pass (the
  // other stays at its generous default), so a slow machine changes nothing.
  test('no ready within readyTimeoutMs after welcome: NOT_READY', async () => {
    const x = key(30);
    const h = await start(enrolled(x), { readyTimeoutMs: 50 });
    const silent = new RawClient(h.url);
    await silent.auth(x);
    await silent.next('welcome');
    expect(await silent.closed).toMatchObject({ code: CloseCode.NOT_READY, errors: ['NOT_READY'] });
  });

  test('no auth within authTimeoutMs: AUTH_TIMEOUT', async () => {
    const h = await start(enrolled(), { authTimeoutMs: 50 });
    const mute = new RawClient(h.url);
    await mute.next('hello');
    expect(await mute.closed).toMatchObject({ code: CloseCode.AUTH_TIMEOUT, errors: ['AUTH_TIMEOUT'] });
  });
});

describe('wire: ready', () => {
  test('ready round-trips; any extra field, or a non-object, is an InvalidMessage', () => {
    expect(decodeClientMessage(encodeMessage({ t: 'ready' }))).toEqual({ t: 'ready' });
    for (const bad of [{ t: 'ready', round: 1 }, { t: 'ready', pk: new Uint8Array(32) }, ['ready']]) {
      let err: unknown;
      try {
        decodeClientMessage(encodeMessage(bad as never));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidMessage);
      expect((err as InvalidMessage).code).toBe('INVALID_MESSAGE');
    }
  });
});
