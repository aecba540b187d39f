/**
 * WebSocket transport on loopback, in one process: authentication, the
 * per-connection limits and malformed input. Each attack is checked to be
 * rejected with its own close code, and the honest clients' round that
 * follows still completes with the exact sum.
 */
import WebSocket from 'ws';
import { ed25519KeyPair, ed25519Sign } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { CloseCode } from '../../src/transport/channel.js';
import { RoundCoordinator, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { nodeConnector } from '../../src/transport/node-client.js';
import { runParticipant } from '../../src/fl/participant.js';
import { authTranscript, channelBinding, hex, signAuth, signEnvelope, type Identity } from '../../src/transport/session.js';
import { decodeServerMessage, encodeMessage } from '../../src/transport/wire.js';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { protocolUnderTest } from './protocol-under-test.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
/** Token-enrolled, uncertified test clients: the development policy (the attack tests use real policies). */
const devPolicy = insecureDevelopmentPolicy();

const DIM = 16;
const BITS = 16;

function key(i: number): Identity {
  return ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(i)));
}

/** A raw attacker connection: resolves with the close code the server chose. */
function rawAttack(url: string, act: (ws: WebSocket, hello: { nonce: Uint8Array; session: Uint8Array }) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      const msg = decodeServerMessage(new Uint8Array(data));
      if (msg.t === 'hello') act(ws, msg);
    });
    ws.on('close', (code) => resolve(code));
    setTimeout(() => reject(new Error('attack connection not closed')), 20000).unref();
  });
}

describe('WebSocket coordinator: auth, limits, malformed input', () => {
  test('each attack is rejected and the honest round completes with the exact sum', async () => {
    const honest = Array.from({ length: 6 }, (_, i) => key(i + 1));
    const flooder = key(50);
    const forger = key(51);
    const enrolled = new Set([...honest, flooder, forger].map((k) => hex(k.publicKey)));
    const transport = new WebSocketServerTransport({ port: 0, maxPayload: 64 * 1024, messagesPerSecond: 20, burst: 40, idleTimeoutMs: 0 });
    const records: RoundRecord[] = [];
    const rejected: string[] = [];
    const coordinator = new RoundCoordinator({
      transport,
      protocol: protocolUnderTest,
      enrolment: { enrolled },
      dim: DIM,
      bits: BITS,
      minClients: honest.length,
      rounds: 1,
      // Above the bucket, so that the flood below meets the transport's flood guard first.
      framesPerRound: 1000,
      onRound: (r) => void records.push(r),
      onEvent: (e) => {
        if (e.type === 'rejected') rejected.push(e.code);
      },
    });
    await coordinator.start();
    const url = transport.url();
    try {
      // Unenrolled identity (valid signature, unknown key).
      await expect(runParticipant({ policy: devPolicy, channel: await nodeConnector(url)(), identity: key(99), protocol: protocolUnderTest, input: () => new Uint32Array(DIM) })).rejects.toMatchObject({ code: 'REJECTED_NOT_ENROLLED' });
      // Forged challenge signature: claims an honest client's key, signs with another.
      const victim = honest[0]!;
      const forgedAuth = await rawAttack(url, (ws, h) => {
        const sig = ed25519Sign(key(98).secretKey, authTranscript(h.nonce, h.session, victim.publicKey));
        ws.send(encodeMessage({ t: 'auth', v: 1, pk: victim.publicKey, sig, token: '', agent: 'forger' }));
      });
      expect(forgedAuth).toBe(CloseCode.AUTH_FAILED);
      // Forged envelope: authenticates as itself, then sends a frame with a bad signature.
      const forgedEnv = await rawAttack(url, (ws, h) => {
        ws.send(encodeMessage({ t: 'auth', v: 1, pk: forger.publicKey, sig: signAuth(forger, h.nonce, h.session), token: '', agent: 'forger' }));
        ws.send(encodeMessage({ t: 'ready' }));
        const payload = new Uint8Array([1, 2, 3]);
        const sig = signEnvelope(victim, channelBinding(h.nonce, h.session, forger.publicKey), 1, 1, payload);
        ws.send(encodeMessage({ t: 'env', seq: 1, round: 1, payload, sig }));
      });
      expect(forgedEnv).toBe(CloseCode.BAD_SIGNATURE);
      // Oversized frame: above maxPayload, refused by ws before buffering.
      expect(await rawAttack(url, (ws) => ws.send(new Uint8Array(200 * 1024)))).toBe(CloseCode.TOO_BIG);
      // Garbage bytes.
      expect(await rawAttack(url, (ws) => ws.send(new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37])))).toBe(CloseCode.INVALID_DATA);
      // Flood: an enrolled identity sends validly signed envelopes far above its rate.
      const flood = await rawAttack(url, (ws, h) => {
        ws.send(encodeMessage({ t: 'auth', v: 1, pk: flooder.publicKey, sig: signAuth(flooder, h.nonce, h.session), token: '', agent: 'flooder' }));
        ws.send(encodeMessage({ t: 'ready' }));
        const binding = channelBinding(h.nonce, h.session, flooder.publicKey);
        const payload = new Uint8Array(8);
        // Signed first, then sent back to back: the burst far exceeds bucket + refill.
        const frames = Array.from({ length: 300 }, (_, i) => encodeMessage({ t: 'env', seq: i + 1, round: 1, payload, sig: signEnvelope(flooder, binding, i + 1, 1, payload) }));
        for (const f of frames) ws.send(f);
      });
      expect(flood).toBe(CloseCode.RATE_LIMITED);
      expect(rejected).toEqual(expect.arrayContaining(['NOT_ENROLLED', 'AUTH_FAILED', 'BAD_SIGNATURE', 'INVALID_MESSAGE']));

      // The honest round, with a garbage sender arriving while it runs.
      const inputs = new Map<string, Uint32Array>();
      let garbageDuringRound: Promise<number> | undefined;
      const runs = honest.map(async (identity, i) =>
        runParticipant({ policy: devPolicy,
          channel: await nodeConnector(url)(),
          identity,
          protocol: protocolUnderTest,
          input: ({ dim }) => {
            const v = new Uint32Array(dim).map((_, j) => (i * 7919 + j * 104729) % 2 ** BITS);
            inputs.set(hex(identity.publicKey), v);
            if (i === 0) garbageDuringRound = rawAttack(url, (ws) => ws.send(new Uint8Array([1, 2, 3, 4])));
            return v;
          },
        }),
      );
      const summaries = await Promise.all(runs);
      expect(summaries.every((s) => s.roundsCompleted === 1)).toBe(true);
      expect(await garbageDuringRound).toBe(CloseCode.INVALID_DATA);
      expect(records).toHaveLength(1);
      const rec = records[0]!;
      expect([...rec.survivors].sort()).toEqual(honest.map((k) => hex(k.publicKey)).sort());
      const want = new Uint32Array(DIM);
      for (const v of inputs.values()) for (let j = 0; j < DIM; j++) want[j] = (want[j]! + v[j]!) % 2 ** BITS;
      expect(rec.sum).toEqual(want);
    } finally {
      await coordinator.stop();
    }
  });

  test('a client whose coordinator goes away gets CONNECTION_LOST', async () => {
    const honest = [key(1), key(2), key(3)];
    const transport = new WebSocketServerTransport({ port: 0 });
    const coordinator = new RoundCoordinator({ transport, protocol: protocolUnderTest, enrolment: { enrolled: new Set(honest.map((k) => hex(k.publicKey))) }, dim: DIM, bits: BITS, minClients: 3 });
    await coordinator.start();
    const url = transport.url();
    const hooks = honest.slice(0, 2).map(() => {
      let onWelcome!: () => void;
      const welcomed = new Promise<void>((r) => (onWelcome = r));
      return { welcomed, onWelcome };
    });
    const runs = honest.slice(0, 2).map(async (identity, i) =>
      runParticipant({ policy: devPolicy, channel: await nodeConnector(url)(), identity, protocol: protocolUnderTest, input: () => new Uint32Array(DIM), onEvent: (e) => e.type === 'welcome' && hooks[i]!.onWelcome() }),
    );
    const welcomed = hooks.map((h) => h.welcomed);
    const settled = Promise.allSettled(runs);
    await Promise.all(welcomed);
    await coordinator.stop('coordinator shutting down');
    const outcomes = await settled;
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'CONNECTION_LOST' });
    }
  });
});
