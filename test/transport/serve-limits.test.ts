/**
 * The `fedveil serve` limit flags reach the server and the coordinator: a
 * real `serve` process (the bundled CLI, procs.ts) with small limits, and
 * raw attacker connections from this process (raw-client.ts) that each
 * send exactly the input one flag is about and get that limit's close
 * code. Nothing waits on time except the one readiness deadline, whose
 * expiry is the expected outcome.
 */
import { ed25519KeyPair } from '../../src/crypto/index.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { CloseCode } from '../../src/transport/channel.js';
import type { Identity } from '../../src/transport/session.js';
import { buildCli, killAll, spawnCli } from './procs.js';
import { RawClient } from './raw-client.js';

const BOUND = ['--auth-timeout', '600000', '--idle-timeout', '600000'];

let cli: string;
beforeAll(async () => {
  cli = await buildCli('serve-limits');
}, 120000);
afterEach(killAll);

function key(i: number): Identity {
  return ed25519KeyPair(deterministicRandom(new Uint8Array(32).fill(i)));
}

async function serve(args: string[]): Promise<string> {
  const p = spawnCli(cli, ['serve', '--port', '0', '--enrol-token', 'tok', ...BOUND, ...args]);
  const line = await p.waitLine(/listening on wss?:\/\//, 60000);
  return line.match(/(wss?:\/\/\S+)/)![1]!;
}

describe('fedveil serve limit flags', () => {
  test('--max-unauth-per-address and --max-connections', async () => {
    const url = await serve(['--max-unauth-per-address', '2', '--max-connections', '4']);
    const a = new RawClient(url);
    const b = new RawClient(url);
    await Promise.all([a.next('hello'), b.next('hello')]);
    expect(await new RawClient(url).closed).toMatchObject({ code: CloseCode.ADDRESS_LIMIT, errors: ['ADDRESS_LIMIT'] });
    const others = ['127.0.0.2', '127.0.0.3'].map((localAddress) => new RawClient(url, { localAddress }));
    await Promise.all(others.map((c) => c.next('hello')));
    // Four open: the fifth, from a fresh address, finds the server full.
    expect(await new RawClient(url, { localAddress: '127.0.0.4' }).closed).toMatchObject({ code: CloseCode.SERVER_FULL, errors: ['SERVER_FULL'] });
  });

  test('--max-token-enrolments, --frames-per-round, --max-pre-auth-frames, --ping-rate', async () => {
    const url = await serve(['--min-clients', '2', '--max-token-enrolments', '2', '--frames-per-round', '2', '--max-pre-auth-frames', '2', '--ping-rate', '1']);
    const a = new RawClient(url);
    await a.auth(key(1), 'tok');
    await a.next('welcome');
    const b = new RawClient(url);
    await b.auth(key(2), 'tok');
    await b.next('welcome');
    b.send({ t: 'ready' });
    for (let i = 0; i < 3; i++) b.envelope(key(2), 1, new Uint8Array([i]));
    expect(await b.closed).toMatchObject({ code: CloseCode.FRAME_BUDGET, errors: ['FRAME_BUDGET'] });
    const c = new RawClient(url);
    await c.auth(key(3), 'tok');
    expect(await c.closed).toMatchObject({ code: CloseCode.ENROLMENT_LIMIT, errors: ['ENROLMENT_LIMIT'] });
    const d = new RawClient(url);
    await d.next('hello');
    d.ws.ping();
    d.ws.ping();
    await d.waitPongs(2);
    d.ws.ping();
    expect(await d.closed).toMatchObject({ code: CloseCode.PRE_AUTH_FLOOD, errors: ['PRE_AUTH_FLOOD'] });
    // Burst 5 at 1 per second: 30 back to back trip it unless they took 25 s to send.
    for (let i = 0; i < 30; i++) a.ws.ping();
    expect(await a.closed).toMatchObject({ code: CloseCode.PING_FLOOD, errors: ['PING_FLOOD'] });
  });

  test('--ready-timeout', async () => {
    const url = await serve(['--ready-timeout', '100']);
    const a = new RawClient(url);
    await a.auth(key(4), 'tok');
    await a.next('welcome');
    expect(await a.closed).toMatchObject({ code: CloseCode.NOT_READY, errors: ['NOT_READY'] });
  });
});
