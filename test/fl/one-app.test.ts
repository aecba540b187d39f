// One app, both runtimes: the same app module files (test/fixtures/apps)
// run in process (createInProcessRun) and as real processes over WebSocket
// (`fedveil serve --app` + `fedveil join --app`). Every round's secure sum
// equals the plain sum of the clients' integer inputs in both, with the same
// model signature and the same number of rounds.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { selectBackend } from '../../src/fl/backend.js';
import { loadClientAppModule } from '../../src/fl/app-module.js';
import { createInProcessRun } from '../../src/fl/in-process.js';
import { modelSignature } from '../../src/fl/client-app.js';
import { deterministicRandom } from '../../src/crypto/random.js';
import { ROOT, artifactsDir, buildCli, exitWithin, killAll, plainSum, spawnCli } from '../transport/procs.js';

const APPS = path.join(ROOT, 'test', 'fixtures', 'apps');
const BITS = 24;
afterEach(killAll);

beforeAll(async () => {
  await selectBackend();
});

test('the same app module: in process and across join processes, each round sums exactly the clients\' inputs', async () => {
  // In process.
  const mods = await Promise.all([0, 1, 2].map((shard) => loadClientAppModule(path.join(APPS, 'client-app.mjs'), { shard: String(shard) })));
  const inputs = new Map<number, Map<string, Uint32Array>>();
  const sums: Array<{ round: number; sum: Uint32Array; survivors: string[] }> = [];
  const run = await createInProcessRun({
    model: mods[0]!.model, clients: await Promise.all(mods.map(async (m) => ({ data: await m.data() }))), training: mods[0]!.training!,
    rounds: 2, mode: 'semi-honest', colluders: 0, rng: deterministicRandom(11),
    onInput: (_c, round, id, v) => void (inputs.get(round) ?? inputs.set(round, new Map()).get(round)!).set(id, v),
    onRecord: (r) => void sums.push({ round: r.round, sum: r.sum, survivors: r.survivors }),
  });
  const inProcess = (await run.run()).rounds;
  const signature = run.server.signature;
  await run.close();
  expect(inProcess.map((r) => r.aborted)).toEqual([false, false]);
  for (const s of sums) {
    expect(s.survivors).toHaveLength(3);
    expect(Array.from(s.sum)).toEqual(plainSum(s.survivors.map((id) => Array.from(inputs.get(s.round)!.get(id)!)), BITS));
  }

  // Real processes, the same module files.
  const cli = await buildCli('one-app');
  const dir = artifactsDir(`one-app-${process.pid}`);
  const results = path.join(dir, 'results.jsonl');
  const serve = spawnCli(cli, ['serve', '--port', '0', '--enrol-token', 't', '--mode', 'semi-honest', '--colluders', '0', '--app', path.join(APPS, 'server-app.mjs'),
    '--min-clients', '3', '--rounds', '2', '--bits', String(BITS), '--results', results, '--stage-timeout', '600000']);
  const url = (await serve.waitLine(/listening on ws:\/\//, 60000)).match(/(ws:\/\/\S+)/)![1]!;
  const joins = [0, 1, 2].map((shard) => spawnCli(cli, ['join', '--server', url, '--enrol-token', 't', '--insecure-dev-policy', '--app', path.join(APPS, 'client-app.mjs'), '--app-arg', `shard=${shard}`], { FEDVEIL_REVEAL_DIR: dir }));
  expect((await Promise.all(joins.map((j) => exitWithin(j, 120000)))).map((e) => e.code)).toEqual([0, 0, 0]);
  expect((await exitWithin(serve, 30000)).code).toBe(0);
  // Both sides announce and check the same model signature.
  for (const j of joins) expect(j.stderr.some((l) => l.includes(`model ${signature}`))).toBe(true);
  const rows = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { round: number; survivors: string[]; sum: number[] });
  expect(rows).toHaveLength(inProcess.length);
  const revealed = readdirSync(dir).filter((f) => /^\d+-[0-9a-f]{64}\.json$/.test(f));
  for (const r of rows) {
    expect(r.survivors).toHaveLength(3);
    const plain = r.survivors.map((id) => JSON.parse(readFileSync(path.join(dir, `${r.round}-${id}.json`), 'utf8')) as number[]);
    expect(r.sum).toEqual(plainSum(plain, BITS));
  }
  expect(revealed).toHaveLength(6);
  expect(modelSignature(await mods[0]!.model())).toBe(signature);
}, 240000);
