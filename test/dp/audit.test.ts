/**
 * `fedveil audit` and ledger consistency checks: exit codes (0 / 3 / 4 / 1),
 * the table and --json, the SVG plot, parameter violations (survivors < t,
 * event vs parameters, under-reported epsilon), accountants that do not
 * support an event.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runAudit, EXIT_BUDGET_EXCEEDED, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE } from '../../src/cli/audit.js';
import { PrivacyLedger } from '../../src/dp/ledger.js';
import { bytesToLowerHex } from '../../src/dp/ledger-format.js';
import { roundParamProblems, verifyLedger } from '../../src/dp/ledger-verify.js';
import { epsilonPlotSpec, renderEpsilonPlot } from '../../src/dp/plot.js';
import { InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';
import { gaussianRound, makeLedger, resignFrom, tempDir, testClock, testKey, type MadeLedger } from '../fixtures/ledgers/generate.js';

const run = promisify(execFile);
const FAST = { accountants: [] } as const;

let valid: MadeLedger;
let over: MadeLedger;
beforeAll(async () => {
  valid = await makeLedger({ rounds: 4 });
  over = await makeLedger({ rounds: 4, budget: 1.4 });
});

/** Tiny XML well-formedness check: every tag closes in order. */
function wellFormed(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name!);
  }
  return stack.length === 0;
}

describe('runAudit exit codes', () => {
  test('0: valid and within budget; table lists every accountant', async () => {
    const res = await runAudit(valid.path, { publicKey: bytesToLowerHex(valid.publicKey) });
    expect(res.exitCode).toBe(EXIT_OK);
    expect(res.text).toMatch(/^round\s+rdp \(ledger\)\s+pld\s+gdp\*\s+budget left/m);
    expect(res.text).toMatch(/matches --public-key/);
    expect(res.text.split('\n').filter((l) => /^[1-4]\s/.test(l))).toHaveLength(4);
    expect(res.text).toMatch(/^OK: ledger verified/m);
    // the ledger's rounds are Poisson-sampled: the epsilon is the amplified one and says so
    expect(res.text).toMatch(/^guarantee model-observers: epsilon against observers of the released models, valid if sampling was done as recorded$/m);
    expect(res.text).toMatch(/^OK: .*\(against observers of the released models, valid if sampling was done as recorded\)$/m);
    expect(res.json.guarantee).toBe('model-observers');
    const json = res.json as { valid: boolean; withinBudget: boolean; rounds: Array<{ epsilon: Record<string, number> }>; budgetLeft: number; keyPinned: boolean };
    expect(json).toMatchObject({ valid: true, withinBudget: true, keyPinned: true, exitCode: 0 });
    expect(json.rounds).toHaveLength(4);
    expect(Object.keys(json.rounds[3]!.epsilon).sort()).toEqual(['gdp', 'pld', 'rdp']);
    expect(json.budgetLeft).toBeCloseTo(8 - json.rounds[3]!.epsilon.rdp!, 12);
  });

  test('a ledger without sampling amplification (q = 1) reports the guarantee against the coordinator', async () => {
    const unsampled = await makeLedger({ rounds: 2, q: 1, z: 5 });
    const res = await runAudit(unsampled.path, { pldPoints: 1 });
    expect(res.exitCode).toBe(EXIT_OK);
    expect(res.json.guarantee).toBe('coordinator');
    expect(res.text).toMatch(/^guarantee coordinator: epsilon against the coordinator$/m);
  });

  test('3: budget exceeded (the ledger is intact)', async () => {
    const res = await runAudit(over.path);
    expect(res.exitCode).toBe(EXIT_BUDGET_EXCEEDED);
    expect(res.message).toMatch(/budget exceeded/);
    expect(res.json).toMatchObject({ valid: true, withinBudget: false });
    // a smaller delta at audit time gives a larger epsilon, never a smaller one
    const tighter = await runAudit(valid.path, { delta: 1e-9 });
    const j0 = (await runAudit(valid.path)).json as { epsilon: { rdp: number } };
    expect((tighter.json as { epsilon: { rdp: number } }).epsilon.rdp).toBeGreaterThan(j0.epsilon.rdp);
    // ... while the budget, an (epsilon, delta) pair, is still judged at the header's delta
    expect(tighter.exitCode).toBe(EXIT_OK);
    expect((tighter.json as { budgetLeft: number }).budgetLeft).toBe((j0 as unknown as { budgetLeft: number }).budgetLeft);
  });

  test('4: tampering, deletion, a forged key, a partial line; names the first bad line', async () => {
    const dir = tempDir();
    const cases: Array<[string, string, number, string]> = [
      ['tampered', valid.text.replace('"survivors":43', '"survivors":44'), 4, 'BAD_SIGNATURE'],
      ['deleted', [...valid.lines.slice(0, 2), ...valid.lines.slice(3)].join('\n') + '\n', 3, 'HASH_MISMATCH'],
      ['partial', valid.text.slice(0, -20), 5, 'PARTIAL_LINE'],
    ];
    for (const [name, text, line, reason] of cases) {
      expect(text).not.toBe(valid.text);
      const path = join(dir, `${name}.jsonl`);
      writeFileSync(path, text);
      const res = await runAudit(path, { publicKey: bytesToLowerHex(valid.publicKey) });
      expect(res.exitCode).toBe(EXIT_INTEGRITY);
      expect(res.message).toContain(`line ${line}`);
      expect(res.message).toContain(reason);
      expect((res.json as { error: { line: number; reason: string } }).error).toMatchObject({ line, reason });
    }
    const other = testKey(42).publicKey;
    const res = await runAudit(valid.path, { publicKey: Buffer.from(other).toString('base64') });
    expect(res.exitCode).toBe(EXIT_INTEGRITY);
    expect(res.message).toMatch(/line 1.*KEY_MISMATCH/);
  });

  test('1: missing file, malformed --public-key', async () => {
    expect((await runAudit(join(tempDir(), 'nope.jsonl'))).exitCode).toBe(EXIT_USAGE);
    const res = await runAudit(valid.path, { publicKey: 'zz' });
    expect(res.exitCode).toBe(EXIT_USAGE);
    expect(res.message).toMatch(/publicKey/);
  });
});

describe('consistency checks (a dishonest key holder re-signs consistent-looking lies)', () => {
  test('survivors < t is a violation naming the line (I6)', () => {
    const text = resignFrom(valid.lines, 3, valid.secretKey, (o) => {
      (o.params as Record<string, unknown>).survivors = 12;
    });
    const report = verifyLedger(text, { ...FAST, publicKey: valid.publicKey });
    expect(report.valid).toBe(false);
    expect(report.error?.line).toBe(3);
    expect(report.error?.reason).toBe('PARAMETER_VIOLATION');
    expect(report.issues[0]?.message).toMatch(/survivors 12 < minClients t = 40/);
    expect(report.rounds).toHaveLength(4); // consistency problems do not stop the scan
    expect(report.rounds[1]!.flags).toEqual(['PARAMETER_VIOLATION']);
  });

  test('sampling rate out of (0, 1], event not matching the parameters, header-declared params', () => {
    const cases: Array<[(o: Record<string, unknown>) => void, string]> = [
      [(o) => { (o.params as Record<string, unknown>).samplingRate = 0; }, 'PARAMETER_VIOLATION'],
      [(o) => { (o.params as Record<string, unknown>).samplingRate = 1.2; }, 'PARAMETER_VIOLATION'],
      [(o) => { (o.params as Record<string, unknown>).samplingRate = 0.06; }, 'EVENT_MISMATCH'],
      [(o) => { (o.params as Record<string, unknown>).noiseMultiplier = 2; }, 'EVENT_MISMATCH'],
      [(o) => { (o.params as Record<string, unknown>).mechanism = 'ddg'; }, 'PARAMETER_VIOLATION'], // header declares gaussian
      [(o) => { (o.params as Record<string, unknown>).clipNorm = 2; }, 'PARAMETER_VIOLATION'], // header declares clipNorm 1
    ];
    for (const [edit, reason] of cases) {
      const text = resignFrom(valid.lines, 2, valid.secretKey, edit);
      const report = verifyLedger(text, FAST);
      expect(report.error?.line).toBe(2);
      expect(report.error?.reason).toBe(reason);
    }
  });

  test('an under-reported epsilon is a violation; rounds out of order in time too', async () => {
    const low = resignFrom(valid.lines, 4, valid.secretKey, (o) => {
      o.epsilon = (o.epsilon as number) * 0.9;
    });
    const r1 = verifyLedger(low, FAST);
    expect(r1.error?.line).toBe(4);
    expect(r1.error?.reason).toBe('EPSILON_MISMATCH');
    const back = resignFrom(valid.lines, 3, valid.secretKey, (o) => {
      o.time = '2026-11-23T11:00:00.000Z';
    });
    expect(verifyLedger(back, FAST).error?.reason).toBe('TIME_ORDER');
    // round numbers: re-signed with a gap is still an integrity failure
    const gap = resignFrom(valid.lines, 3, valid.secretKey, (o) => {
      o.round = 3;
    });
    const rg = verifyLedger(gap, FAST);
    expect(rg.error?.line).toBe(3);
    expect(rg.error?.reason).toBe('ROUND_SEQUENCE');
    const dir = tempDir();
    writeFileSync(join(dir, 'low.jsonl'), low);
    expect((await runAudit(join(dir, 'low.jsonl'))).exitCode).toBe(EXIT_INTEGRITY);
  });

  test('distributed-DP parameters: clients = t, padded dimension, sensitivity >= C*s', () => {
    const params = {
      mechanism: 'ddg', clipNorm: 1, noiseMultiplier: 1, samplingRate: 0.1, expectedClients: 100, minClients: 80,
      survivors: 90, dimension: 1000, paddedDimension: 1024, bits: 20, scale: 100,
    };
    const ddg = { type: 'discrete_gaussian', sigma: 11.2, clients: 80, l2Sensitivity: 101, l1Sensitivity: 3300, dimension: 1024 };
    const event = { type: 'poisson_sampled', samplingProbability: 0.1, event: ddg };
    expect(roundParamProblems(params, event)).toEqual([]);
    const codes = (p: Record<string, unknown>, e: Record<string, unknown>): string[] => roundParamProblems(p, e).map((x) => `${x.code}: ${x.message}`);
    expect(codes(params, { ...event, event: { ...ddg, clients: 90 } })).toEqual([expect.stringMatching(/EVENT_MISMATCH: event clients 90 differs from minClients t = 80/)]);
    expect(codes(params, { ...event, event: { ...ddg, dimension: 1000 } })).toEqual([expect.stringMatching(/EVENT_MISMATCH.*paddedDimension 1024/)]);
    expect(codes(params, { ...event, event: { ...ddg, l2Sensitivity: 50 } })).toEqual([expect.stringMatching(/below clipNorm \* scale/)]);
    expect(codes(params, { ...event, event: { ...ddg, type: 'skellam', mu: 3 } })).toEqual([expect.stringMatching(/skellam does not match mechanism ddg/)]);
    expect(codes({ ...params, bits: 40 }, event)).toEqual([expect.stringMatching(/bits/)]);
    expect(codes({ ...params, survivors: 79 }, event)).toEqual([expect.stringMatching(/survivors 79 < minClients/)]);
  });

  test('an accountant that does not support an event reports null with a reason; others still count', async () => {
    const dir = tempDir();
    const path = join(dir, 'ddg.jsonl');
    const { secretKey } = testKey(9);
    const ledger = await PrivacyLedger.create(path, { secretKey, delta: 1e-5, epsilonBudget: 50, accountant: 'gdp', now: testClock() });
    // gdp and rdp support the Gaussian; a round the header's accountant cannot bound is refused by the guard
    await ledger.appendRound(gaussianRound());
    const ddg = { type: 'discrete_gaussian', sigma: 11.2, clients: 40, l2Sensitivity: 101, l1Sensitivity: 3300, dimension: 8192 } as const;
    expectFedveilError(() => ledger.checkBudget({ type: 'poisson_sampled', samplingProbability: 0.05, event: ddg }), InvalidArgument, 'INVALID_ARGUMENT');
    await ledger.close();
    const report = verifyLedger(readFileSync(path));
    expect(report.valid).toBe(true);
    const r = report.rounds[0]!;
    expect(r.epsilon.gdp).toBeGreaterThan(0);
    expect(r.epsilon.rdp).toBeGreaterThan(r.epsilon.gdp!);
    // a composition with an event PLD/GDP cannot bound: null + reason, not a crash
    const text = resignFrom(readFileSync(path, 'utf8').split('\n').slice(0, -1), 1, secretKey, (h) => {
      h.accountant = 'rdp';
    });
    const ddgLines = text.split('\n').slice(0, -1);
    const withDdg = resignFrom(ddgLines, 2, secretKey, (o) => {
      o.event = { type: 'poisson_sampled', samplingProbability: 0.05, event: { ...ddg } };
      o.params = { mechanism: 'ddg', clipNorm: 1, noiseMultiplier: 1.1, samplingRate: 0.05, expectedClients: 50, minClients: 40, survivors: 45, dimension: 8000, paddedDimension: 8192, bits: 20, scale: 100 };
      delete (o as { epsilon?: unknown }).epsilon;
      o.epsilon = 0;
    });
    const rep = verifyLedger(withDdg, { accountants: ['gdp', 'pld'] });
    const rr = rep.rounds[0]!;
    for (const a of ['gdp', 'pld'] as const) {
      if (rr.epsilon[a] === null) expect(rr.unsupported[a]).toEqual(expect.any(String));
    }
    expect(rr.epsilon.gdp === null || rr.epsilon.pld === null).toBe(true);
  });
});

describe('plot', () => {
  test('the SVG is well-formed and contains the budget line and label', async () => {
    const svg = await renderEpsilonPlot({
      points: [{ round: 1, accountant: 'rdp', epsilon: 1 }, { round: 2, accountant: 'rdp', epsilon: 1.5 }, { round: 1, accountant: 'pld', epsilon: 0.8 }, { round: 2, accountant: 'pld', epsilon: 1.1 }],
      budget: 3, delta: 1e-5,
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toMatch(/class="mark-rule role-mark budget-line"[^>]*><line [^>]*stroke="#222222"/);
    expect(svg).toContain('budget ε = 3');
    expect(svg).toMatch(/class="mark-line role-mark epsilon-line"/);
    expect(svg).toContain('RDP');
    expect(svg).toContain('PLD');
    // the spec is plain JSON (no functions): it can be saved and opened in the Vega editor
    const spec = epsilonPlotSpec({ points: [], budget: 1, delta: 1e-5 });
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  test('runAudit --plot writes the SVG of the ledger', async () => {
    const out = join(tempDir(), 'eps.svg');
    const res = await runAudit(valid.path, { plot: out });
    expect(res.exitCode).toBe(EXIT_OK);
    const svg = readFileSync(out, 'utf8');
    expect(wellFormed(svg)).toBe(true);
    expect(svg).toContain('budget ε = 8');
    expect(svg).toContain('budget-line');
    expect((res.json as { plot: string }).plot).toBe(out);
  });
});

describe('the fedveil binary (spawned: slow, so only a few cases)', () => {
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'audit', ...args], { cwd: process.cwd() });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  test('exit 0 with --json (one object on stdout), exit 4 on a tampered ledger, exit 3 over budget', async () => {
    const ok = await cli([valid.path, '--json', '--public-key', bytesToLowerHex(valid.publicKey)]);
    expect(ok.code).toBe(0);
    const obj = JSON.parse(ok.stdout) as { valid: boolean; rounds: unknown[] };
    expect(obj.valid).toBe(true);
    expect(obj.rounds).toHaveLength(4);

    const path = join(tempDir(), 'bad.jsonl');
    writeFileSync(path, valid.text.replace('"round":2', '"round":3'));
    const bad = await cli([path]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain('failed verification at line 3: BAD_SIGNATURE');

    const exceeded = await cli([over.path, '--json']);
    expect(exceeded.code).toBe(3);
    expect((JSON.parse(exceeded.stdout) as { withinBudget: boolean }).withinBudget).toBe(false);
  });
});
