// A stage closed early ("every live member has spoken") must never overtake
// frames still queued for the state machine. Here the state machine is slow
// on the first frame, a third member disconnects meanwhile, and the second
// member's frame arrives after that close: the coordinator must hand the
// second frame to the state machine before it closes the stage, or it would
// turn an honest member into a dropout (the round then aborted for everyone).
import { ed25519KeyPair } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { RoundCoordinator } from '../../src/fl/round-coordinator.js';
import type { Protocol, RoundServer } from '../../src/fl/protocol.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { runParticipant } from '../../src/fl/participant.js';
import { hex } from '../../src/transport/session.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
import { fakeProtocol } from '../transport/fake-protocol.js';

test('a disconnect while frames are queued: every arrived frame is handled before the stage is closed', async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let first = true;
  const slow: Protocol = {
    ...fakeProtocol,
    createServer: (config) => {
      const inner = fakeProtocol.createServer(config);
      const server: RoundServer = {
        get stage() {
          return inner.stage;
        },
        async handle(from, frame) {
          if (first) {
            first = false;
            await gate;
          }
          log.push(`handle ${from}`);
          return inner.handle(from, frame);
        },
        async deadline() {
          log.push(`deadline at ${inner.stage}`);
          return inner.deadline();
        },
        result: () => inner.result(),
      };
      return server;
    },
  };
  const transport = new MemoryTransport();
  const ids = [1, 2, 3].map((i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(120 + i))));
  let ended!: (r: { ok: boolean; survivors: number }) => void;
  const roundEnd = new Promise<{ ok: boolean; survivors: number }>((r) => (ended = r));
  const coordinator = new RoundCoordinator({
    transport, protocol: slow, enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) }, dim: 4, bits: 8, minClients: 3, rounds: 1, stageTimeoutMs: 600000,
    onEvent: (e) => {
      if (e.type === 'round-end') ended({ ok: e.record.ok, survivors: e.record.survivors.length });
    },
  });
  await coordinator.start();
  const policy = insecureDevelopmentPolicy();
  // Member 3 leaves as soon as it would send its first frame; member 2 waits until member 1's frame is in the (blocked) queue and 3 has left.
  let thirdGone!: () => void;
  const gone = new Promise<void>((r) => (thirdGone = r));
  const channels = await Promise.all(ids.map(() => transport.connect()));
  const runs = ids.map((identity, i) => runParticipant({
    channel: channels[i]!, identity, protocol: slow, policy, input: ({ dim }) => new Uint32Array(dim).fill(i + 1),
    beforeSend: async (type) => {
      if (type !== 'AdvertiseKeys') return;
      if (i === 2) {
        channels[2]!.close(1000, 'leaving');
        thirdGone();
        throw new Error('left');
      }
      if (i === 1) {
        await gone;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  }).catch((e: unknown) => e));
  await gone;
  await new Promise((r) => setTimeout(r, 60));
  release();
  const end = await roundEnd;
  // Both remaining members' frames reached the state machine before the stage was closed by the deadline.
  const firstDeadline = log.findIndex((l) => l.startsWith('deadline'));
  expect(log.slice(0, firstDeadline)).toEqual(expect.arrayContaining(['handle 1', 'handle 2']));
  expect(end).toEqual({ ok: true, survivors: 2 });
  await coordinator.stop();
  await Promise.all(runs);
}, 20000);
