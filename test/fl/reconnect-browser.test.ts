/**
 * The browser client (src/browser/client.ts) stays too: run here under Node
 * with `ws` standing in for the browser's WebSocket (the same
 * addEventListener / binaryType surface), against a real RoundCoordinator
 * over loopback. The coordinator stops after a round (close 1001) and a new
 * one, with a new session id, listens on the same port: the client comes
 * back on its own and completes the new coordinator's round, then ends on
 * its bye. `signal` ends it with `stopped: true`. No test asserts a
 * duration. (The real-browser runs are test/transport/browser.test.ts.)
 */
import WebSocket from 'ws';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { RoundCoordinator, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { secAggProtocol } from '../../src/fl/secagg-protocol.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
import { runReconnectingParticipant } from '../../src/fl/reconnect.js';
import { runBrowserClient } from '../../src/browser/client.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import type { ReconnectEvent } from '../../src/fl/reconnect.js';

const g = globalThis as { WebSocket?: unknown };
const hadWebSocket = 'WebSocket' in g;
const saved = g.WebSocket;
beforeAll(() => {
  g.WebSocket = WebSocket;
});
afterAll(() => {
  if (hadWebSocket) g.WebSocket = saved;
  else delete g.WebSocket;
});

const DIM = 8;
const BITS = 16;

async function coordinator(port: number, rounds: number, records: RoundRecord[]): Promise<{ coord: RoundCoordinator; transport: WebSocketServerTransport }> {
  const transport = new WebSocketServerTransport({ host: '127.0.0.1', port });
  const coord = new RoundCoordinator({
    transport, protocol: secAggProtocol, enrolment: { enrolled: new Set(), token: 'tok' }, dim: DIM, bits: BITS,
    minClients: 2, rounds, mode: 'semi-honest', stageTimeoutMs: 600000, readyWaitMs: 0, onRound: (r) => void records.push(r),
  });
  await coord.start();
  return { coord, transport };
}

test('the browser client reconnects to a restarted coordinator on the same port and completes its round', async () => {
  const records: RoundRecord[] = [];
  const first = await coordinator(0, 1000, records);
  const port = first.transport.address().port;
  const url = first.transport.url();
  const lines: string[] = [];
  const reconnects: ReconnectEvent[] = [];
  const tab = ed25519KeyPair();
  const browser = runBrowserClient({
    url, enrolToken: 'tok', policy: insecureDevelopmentPolicy(), identity: tab, reconnect: { initialMs: 20, maxMs: 200 },
    onLog: (l) => lines.push(l), onReconnect: (ev) => reconnects.push(ev),
  });
  const node = runReconnectingParticipant({
    connect: async () => {
      const { nodeConnector } = await import('../../src/transport/node-client.js');
      return nodeConnector(url)();
    },
    identity: ed25519KeyPair(), protocol: secAggProtocol, policy: insecureDevelopmentPolicy(), enrolToken: 'tok',
    input: (info) => new Uint32Array(info.dim).fill(3), backoff: { initialMs: 20, maxMs: 200 },
  });
  for (let i = 0; i < 3000 && records.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(records).toHaveLength(1);
  await first.coord.stop('coordinator shutting down');
  const second = await coordinator(port, 1, records);
  const [b, n] = await Promise.all([browser, node]);
  await second.coord.finished;
  await second.transport.close();
  expect(Buffer.from(second.coord.sessionId).equals(Buffer.from(first.coord.sessionId))).toBe(false);
  expect(records).toHaveLength(2);
  const tabHex = Buffer.from(tab.publicKey).toString('hex');
  for (const r of records) expect(r.survivors).toContain(tabHex);
  expect(b).toMatchObject({ roundsCompleted: 2, sessions: 2, stopped: false, reason: 'all rounds completed' });
  expect(n).toMatchObject({ roundsCompleted: 2, sessions: 2, stopped: false });
  expect(reconnects[0]).toMatchObject({ attempt: 1, code: 'CONNECTION_LOST' });
  expect(reconnects[0]!.reason).toMatch(/code 1001: coordinator shutting down/);
  expect(lines.filter((l) => l === `connected to ${url}`)).toHaveLength(2);
  expect(lines.some((l) => /reconnecting in \d+ ms \(attempt 1\)$/.test(l))).toBe(true);
}, 120000);

test('signal ends the browser client with stopped: true; reconnect: false ends it on the first lost connection', async () => {
  const records: RoundRecord[] = [];
  const { coord, transport } = await coordinator(0, 1000, records);
  const url = transport.url();
  const controller = new AbortController();
  const stopped: boolean[] = [];
  const authenticated = new Promise<void>((resolve) => {
    void runBrowserClient({ url, enrolToken: 'tok', policy: insecureDevelopmentPolicy(), signal: controller.signal, onEvent: (ev) => ev.type === 'welcome' && resolve() })
      .then((s) => stopped.push(s.stopped));
  });
  await authenticated;
  controller.abort();
  for (let i = 0; i < 500 && stopped.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(stopped).toEqual([true]);
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => (welcomed = r));
  const once = runBrowserClient({ url, enrolToken: 'tok', policy: insecureDevelopmentPolicy(), reconnect: false, onEvent: (ev) => ev.type === 'welcome' && welcomed() })
    .then((s) => s, (e: unknown) => e);
  await welcome;
  await coord.stop('coordinator shutting down');
  const err = (await once) as { code?: string };
  expect(err.code).toBe('CONNECTION_LOST');
}, 120000);
