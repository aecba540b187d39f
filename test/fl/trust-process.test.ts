/**
 * The sybil and plan attacks against a real `fedveil join` process: a
 * malicious coordinator (evil-coordinator.ts) listens on loopback WebSocket
 * and speaks the real wire format. The client exits non-zero with one clear
 * stderr line naming the policy field, and sends no protocol frame at all.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocketServerTransport } from '../../src/transport/ws-server.js';
import { ed25519KeyPair } from '../../src/crypto/signatures.js';
import { encodeCertificate, issueCertificate } from '../../src/crypto/certificate.js';
import { planDistributedDp } from '../../src/dp/plan.js';
import { loadOrCreateIdentity } from '../../src/transport/node-client.js';
import { buildCli, exitWithin, killAll, runDir, spawnCli } from '../transport/procs.js';
import { EvilCoordinator, sybil, type AttackRound } from './evil-coordinator.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const authority = ed25519KeyPair();
let cli: string;

beforeAll(async () => {
  cli = await buildCli('trust');
}, 120000);
afterEach(killAll);

async function victimFiles(dir: string): Promise<{ identity: string; cert: string; publicKey: Uint8Array; certBytes: Uint8Array }> {
  mkdirSync(dir, { recursive: true });
  const identity = path.join(dir, 'id.json');
  const kp = await loadOrCreateIdentity(identity);
  const certBytes = encodeCertificate(issueCertificate(authority.secretKey, { subject: kp.publicKey, serial: 1, notBefore: 0, notAfter: 2 ** 40 }));
  const cert = path.join(dir, 'cert.json');
  writeFileSync(cert, JSON.stringify({ certificate: hexOf(certBytes) }));
  return { identity, cert, publicKey: kp.publicKey, certBytes };
}

async function evilServer(): Promise<{ evil: EvilCoordinator; url: string; transport: WebSocketServerTransport }> {
  const transport = new WebSocketServerTransport({ host: '127.0.0.1', port: 0 });
  const evil = new EvilCoordinator();
  await evil.listen(transport);
  return { evil, url: transport.url(), transport };
}

describe('fedveil join against a malicious coordinator', () => {
  test('sybil roster: join with its default policy and a pinned authority exits non-zero with one line, having sent nothing', async () => {
    const dir = runDir('trust-sybil');
    const files = await victimFiles(dir);
    const { evil, url, transport } = await evilServer();
    try {
      const join = spawnCli(cli, ['join', '--server', url, '--identity', files.identity, '--cert', files.cert, '--authority', hexOf(authority.publicKey), '--quiet']);
      const [victim] = await evil.waitReady(1);
      const sybils = Array.from({ length: 11 }, () => sybil());
      const a: AttackRound = {
        round: 1, n: 12, threshold: 8, mode: 'active', dim: 8, bits: 16, task: { kind: 'vector' },
        entries: [{ id: 1, key: files.publicKey, certificate: files.certBytes }, ...sybils.map((s, i) => ({ id: i + 2, key: s.keys.publicKey, certificate: s.certificate }))],
      };
      evil.sendRound(a, [victim!], [1]);
      const exit = await exitWithin(join, 60000);
      expect(exit.code).not.toBe(0);
      expect(join.stderr.filter((l) => l.trim() !== '')).toEqual([expect.stringMatching(/^fedveil: POLICY_VIOLATION: policy authorities: roster member 2: certificate malformed$/)]);
      expect(victim!.sent).toEqual([]);
    } finally {
      await transport.close();
    }
  }, 120000);

  test('a plan with almost no noise: join with a policy file exits non-zero with one line naming dp.localNoise, having sent nothing', async () => {
    const dir = runDir('trust-plan');
    const files = await victimFiles(dir);
    const policyFile = path.join(dir, 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ authorities: [hexOf(authority.publicKey)], minRoster: 5, minThreshold: 3, colluders: 0, minHonest: 3 }));
    const { evil, url, transport } = await evilServer();
    try {
      const join = spawnCli(cli, ['join', '--server', url, '--identity', files.identity, '--cert', files.cert, '--policy', policyFile, '--quiet']);
      const [victim] = await evil.waitReady(1);
      // Four peers with real certificates (clients colluding with the coordinator): the roster passes, the plan must not.
      const peers = Array.from({ length: 4 }, (_, i) => sybil(authority, 10 + i));
      const honest = planDistributedDp({ clipNorm: 1, noiseMultiplier: 1.2, expectedClients: 5, maxClients: 5, minClients: 5, dim: 20, bits: 20, mechanism: 'ddg' });
      const weak = { ...honest, localNoise: { kind: 'discrete_gaussian', sigma: 1e-9 } };
      const a: AttackRound = {
        round: 1, n: 5, threshold: 3, minSurvivors: 5, mode: 'active', dim: honest.paddedDim, bits: 20,
        task: { kind: 'train', model: 'softmax:4:4', global: new Uint8Array(80), range: 4, dp: weak as unknown as Record<string, unknown> },
        entries: [{ id: 1, key: files.publicKey, certificate: files.certBytes }, ...peers.map((s, i) => ({ id: i + 2, key: s.keys.publicKey, certificate: s.certificate }))],
      };
      evil.sendRound(a, [victim!], [1]);
      const exit = await exitWithin(join, 60000);
      expect(exit.code).not.toBe(0);
      const lines = join.stderr.filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^fedveil: POLICY_VIOLATION: policy dp\.localNoise: /);
      expect(victim!.sent).toEqual([]);
    } finally {
      await transport.close();
    }
  }, 120000);

  test('without a pinned authority the default policy refuses to start (certificates are required)', async () => {
    const { url, transport } = await evilServer();
    try {
      const join = spawnCli(cli, ['join', '--server', url, '--quiet']);
      const exit = await exitWithin(join, 60000);
      expect(exit.code).toBe(2);
      expect(join.stderr.filter((l) => l.trim() !== '')).toEqual([expect.stringMatching(/^fedveil: USAGE: join: the policy requires certified rosters but pins no enrolment authority/)]);
    } finally {
      await transport.close();
    }
  }, 60000);
});
