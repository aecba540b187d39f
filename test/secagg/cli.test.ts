import { jest } from '@jest/globals';
import { Command } from 'commander';
import { register as registerParams } from '../../src/cli/params.js';
import { register as registerBench } from '../../src/cli/bench.js';

async function run(argv: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerParams(program);
  registerBench(program);
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe('fedveil params / bench secagg', () => {
  test('params --json prints exactly the finder\'s choice', async () => {
    const out = await run(['params', '--clients', '1000', '--dropout', '0.05', '--corrupt', '0.05', '--json']);
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(out)).toEqual({ degree: 30, threshold: 17, graph: 'harary' });
  });

  test('bench secagg --json runs a real round and prints one object with a correct sum', async () => {
    const out = await run(['bench', 'secagg', '--clients', '12', '--dim', '500', '--dropout', '0.25', '--json']);
    expect(out.trim().split('\n')).toHaveLength(1);
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r).toMatchObject({ clients: 12, dim: 500, graph: 'full', degree: 11, threshold: 7, sumCorrect: true, timedClients: 12 });
    // Byte counts are properties of the protocol, not of the machine.
    for (const k of ['bytesUpPerClient', 'bytesDownPerClient']) expect(r[k]).toBeGreaterThan(0);
    // Timings and the PRG-limit ratio are measurements: reported, never judged.
    for (const k of ['clientMs', 'serverMs', 'prgLimitRatio']) {
      expect(typeof r[k]).toBe('number');
      expect(Number.isFinite(r[k])).toBe(true);
    }
    // Upload: at least the packed vector d*b/8.
    expect(r.bytesUpPerClient as number).toBeGreaterThan((500 * 16) / 8);
  });

  test('bench secagg with a timed sample still checks the exact sum', async () => {
    const out = await run(['bench', 'secagg', '--clients', '16', '--dim', '300', '--graph', 'harary', '--sample', '3', '--json']);
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r).toMatchObject({ graph: 'harary', timedClients: 3, sumCorrect: true });
  });
});
