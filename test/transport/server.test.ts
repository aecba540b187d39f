/**
 * The WebSocket server's other duties, in one process on loopback: TLS
 * (wss:// with a certificate generated for the test by the openssl CLI),
 * the status page and JSON status, the idle timeout, identity and
 * enrolled-keys files.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { ed25519KeyPair } from '../../src/crypto/index.js';
import { CloseCode } from '../../src/transport/channel.js';
import { RoundCoordinator, type RoundRecord } from '../../src/fl/round-coordinator.js';
import { loadEnrolledKeys, loadOrCreateIdentity, nodeConnector } from '../../src/transport/node-client.js';
import { runParticipant } from '../../src/fl/participant.js';
import { hex } from '../../src/transport/session.js';
import { renderStatusPage } from '../../src/fl/status-page.js';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { protocolUnderTest } from './protocol-under-test.js';
import { insecureDevelopmentPolicy } from '../../src/fl/policy.js';
/** Token-enrolled, uncertified test clients: the development policy (the attack tests use real policies). */
const devPolicy = insecureDevelopmentPolicy();

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const OPENSSL = haveOpenssl();

describe('WebSocket server: TLS, status, idle timeout', () => {
  (OPENSSL ? test : test.skip)(`a round over wss:// with a self-signed certificate the clients trust explicitly${OPENSSL ? '' : ' [SKIPPED: no openssl CLI to make a test certificate]'}`, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedveil-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
      const cert = readFileSync(path.join(dir, 'cert.pem'));
      const ids = [ed25519KeyPair(), ed25519KeyPair(), ed25519KeyPair()];
      const status: { body?: string } = {};
      const transport = new WebSocketServerTransport({
        port: 0,
        tls: { cert, key: readFileSync(path.join(dir, 'key.pem')) },
        onRequest: (req, res) => {
          if (req.url !== '/status') return false;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(coordinator.status()));
          return true;
        },
      });
      const records: RoundRecord[] = [];
      const coordinator = new RoundCoordinator({ transport, protocol: protocolUnderTest, enrolment: { enrolled: new Set(ids.map((k) => hex(k.publicKey))) }, dim: 8, bits: 12, minClients: 3, rounds: 1, onRound: (r) => void records.push(r) });
      await coordinator.start();
      expect(transport.url()).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
      // Without the certificate trusted, the connection is refused.
      await expect(nodeConnector(transport.url())()).rejects.toMatchObject({ code: 'CONNECTION_FAILED' });
      const inputs: Uint32Array[] = [];
      await Promise.all(ids.map(async (identity, i) => runParticipant({ policy: devPolicy, channel: await nodeConnector(transport.url(), { ca: cert })(), identity, protocol: protocolUnderTest, input: ({ dim }) => (inputs[i] = new Uint32Array(dim).fill(i + 1)) })));
      const want = new Uint32Array(8);
      for (const v of inputs) for (let j = 0; j < 8; j++) want[j] = (want[j]! + v[j]!) % 4096;
      expect(records[0]!.sum).toEqual(want);
      status.body = await new Promise<string>((resolve, reject) => {
        https.get(`${transport.url().replace(/^wss/, 'https')}status`, { ca: cert }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      expect(JSON.parse(status.body)).toMatchObject({ state: 'finished', roundsCompleted: 1, dim: 8, bits: 12 });
      await coordinator.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the status page shows the round, the clients and the epsilon spent, escaped', () => {
    const html = renderStatusPage(
      { name: '<coord>', state: 'round', round: 7, stage: 'ShareKeys', roundsCompleted: 6, roundsPlanned: 10, clients: { connected: 12, authenticated: 11, inRound: 10 }, minClients: 10, dim: 100, bits: 20, lastRound: { round: 6, ok: true, n: 10, survivors: 9, durationMs: 1234, reason: '' } },
      { epsilon: 1.5, budget: 8, delta: 1e-5, ledgerRounds: 6 },
      { demo: true },
    );
    expect(html).toContain('7 (ShareKeys)');
    expect(html).toContain('<td id="clients-connected">12</td>');
    expect(html).toContain('1.5000 of 8');
    expect(html).toContain('&lt;coord&gt;');
    expect(html).not.toContain('<coord>');
    expect(html).toContain('/demo/');
  });

  test('a silent connection is closed by the idle timeout (pings unanswered)', async () => {
    const transport = new WebSocketServerTransport({ port: 0, idleTimeoutMs: 300 });
    const coordinator = new RoundCoordinator({ transport, protocol: protocolUnderTest, enrolment: { enrolled: new Set() }, dim: 4, bits: 8, minClients: 2, authTimeoutMs: 60000 });
    await coordinator.start();
    try {
      // autoPong off: this peer never answers pings and never sends anything.
      const ws = new WebSocket(transport.url(), { autoPong: false } as WebSocket.ClientOptions);
      const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
      expect(code).toBe(CloseCode.IDLE_TIMEOUT);
    } finally {
      await coordinator.stop();
    }
  });
});

describe('identity and enrolled-keys files', () => {
  test('an identity file is created 0600 and reloads to the same key; an enrolled-keys file is validated', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedveil-id-'));
    try {
      const file = path.join(dir, 'id.json');
      const a = await loadOrCreateIdentity(file);
      const b = await loadOrCreateIdentity(file);
      expect(hex(b.publicKey)).toBe(hex(a.publicKey));
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const keys = path.join(dir, 'keys.json');
      writeFileSync(keys, JSON.stringify([hex(a.publicKey).toUpperCase()]));
      expect([...(await loadEnrolledKeys(keys))]).toEqual([hex(a.publicKey)]);
      writeFileSync(keys, JSON.stringify({ keys: ['abcd'] }));
      await expect(loadEnrolledKeys(keys)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
