/**
 * Training that runs round after round with no pause, under the default
 * limits of the WebSocket server and the coordinator (loopback, one
 * process, the real SecAgg state machines): no limit may ever cut an honest
 * client, however fast the rounds follow each other. A per-second message
 * rate used to do exactly that (every client closed after ~56 rounds of
 * ~39 ms); the per-round frame budget bounds each client's traffic by the
 * protocol instead.
 */
import { ed25519KeyPair } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { RoundCoordinator, type CoordinatorEvent, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { nodeConnector } from '../../src/transport/node-client.js';
import { runParticipant } from '../../src/fl/participant.js';
import { hex } from '../../src/transport/session.js';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
import { protocolUnderTest } from './protocol-under-test.js';
/** Token-enrolled, uncertified test clients: the development policy (the attack tests use real policies). */
const devPolicy = insecureDevelopmentPolicy();

const CLIENTS = 7;
const ROUNDS = 60;
const DIM = 16;
const BITS = 16;

test(`${ROUNDS} back-to-back rounds of ${CLIENTS} clients with default limits: every client takes part in every round`, async () => {
  const honest = Array.from({ length: CLIENTS }, (_, i) => ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(70 + i))));
  // Default limits: only the port is chosen.
  const transport = new WebSocketServerTransport({ port: 0 });
  const records: RoundRecord[] = [];
  const trouble: CoordinatorEvent[] = [];
  let finished = false;
  const coordinator = new RoundCoordinator({
    transport,
    protocol: protocolUnderTest,
    enrolment: { enrolled: new Set(honest.map((k) => hex(k.publicKey))) },
    dim: DIM,
    bits: BITS,
    minClients: CLIENTS,
    rounds: ROUNDS,
    onRound: (r) => void records.push(r),
    onEvent: (e) => {
      if (e.type === 'finished') finished = true;
      // Clients leave after `bye`; any earlier close or rejection is a cut.
      if (e.type === 'rejected' || (e.type === 'disconnected' && !finished)) trouble.push(e);
    },
  });
  await coordinator.start();
  try {
    const url = transport.url();
    const inputs = honest.map(() => new Map<number, Uint32Array>());
    const summaries = await Promise.all(
      honest.map(async (identity, i) =>
        runParticipant({ policy: devPolicy,
          channel: await nodeConnector(url)(),
          identity,
          protocol: protocolUnderTest,
          input: ({ round, dim }) => {
            const v = new Uint32Array(dim).map((_, j) => (round * 31 + i * 7 + j) % 2 ** BITS);
            inputs[i]!.set(round, v);
            return v;
          },
        }),
      ),
    );
    await coordinator.finished;
    expect(trouble).toEqual([]);
    for (const s of summaries) expect(s).toMatchObject({ roundsJoined: ROUNDS, roundsCompleted: ROUNDS, reason: 'all rounds completed' });
    expect(records).toHaveLength(ROUNDS);
    const everyone = honest.map((k) => hex(k.publicKey)).sort();
    records.forEach((r, k) => {
      expect(r.round).toBe(k + 1);
      expect([...r.roster].sort()).toEqual(everyone);
      expect([...r.survivors].sort()).toEqual(everyone);
      const want = new Uint32Array(DIM);
      for (const m of inputs) for (let j = 0; j < DIM; j++) want[j] = (want[j]! + m.get(r.round)![j]!) % 2 ** BITS;
      expect(r.sum).toEqual(want);
    });
  } finally {
    await coordinator.stop();
  }
});
