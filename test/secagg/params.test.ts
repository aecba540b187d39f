import { findSecAggPlusParams, hypergeometricPmf } from '../../src/secagg/params.js';
import { InfeasibleParameters, InvalidArgument } from '../../src/errors.js';
import { expectFedveilError } from '../expect-error.js';

describe('SecAgg+ parameter finder (Bell et al. 2020)', () => {
  test('reproduces Google\'s production table for dropout = corrupt = 0.05, semi-honest', () => {
    const table: [number, number, number][] = [[100, 12, 6], [1000, 30, 17], [10_000, 34, 20], [100_000, 36, 21], [1_000_000, 38, 22]];
    for (const [clients, degree, threshold] of table) {
      expect(findSecAggPlusParams({ clients, dropout: 0.05, corrupt: 0.05 })).toEqual({ degree, threshold, graph: 'harary' });
    }
  });

  // Further published values of the same finder (fcp graph_parameter_finder tests):
  // [n, corrupt, dropout, adversary, degree, threshold].
  const published: [number, number, number, 'semi-honest' | 'semi-malicious', number, number][] = [
    [100, 0.45, 0.45, 'semi-honest', 92, 46],
    [1000, 0.45, 0.45, 'semi-honest', 822, 417],
    [10, 0.33, 0.33, 'semi-honest', 8, 4],
    [1000, 0.33, 0.33, 'semi-honest', 286, 150],
    [1_000_000, 0.33, 0.33, 'semi-honest', 518, 270],
    [100, 0.3, 0.3, 'semi-malicious', 92, 62],
    [10, 0.05, 0.33, 'semi-honest', 4, 2],
    [1_000_000, 0.05, 0.33, 'semi-honest', 102, 34],
    [10, 0.05, 0.33, 'semi-malicious', 8, 5],
    [1000, 0.05, 0.33, 'semi-malicious', 398, 223],
    [1000, 0.33, 0.05, 'semi-honest', 78, 60],
    [100, 0.33, 0.05, 'semi-malicious', 42, 37],
  ];
  test.each(published)('n=%d corrupt=%d dropout=%d %s -> k=%d t=%d', (clients, corrupt, dropout, adversary, degree, threshold) => {
    expect(findSecAggPlusParams({ clients, corrupt, dropout, adversary })).toEqual({ degree, threshold, graph: 'harary' });
  });

  test('semi-malicious needs a larger degree and a threshold above half of it', () => {
    const p = findSecAggPlusParams({ clients: 1000, dropout: 0.05, corrupt: 0.05, adversary: 'semi-malicious' });
    const h = findSecAggPlusParams({ clients: 1000, dropout: 0.05, corrupt: 0.05 });
    expect(p.degree).toBeGreaterThan(h.degree);
    expect(2 * p.threshold).toBeGreaterThan(p.degree);
  });

  test('falls back to the full graph when no sparse graph is feasible (small n)', () => {
    const p = findSecAggPlusParams({ clients: 10, dropout: 0.4, corrupt: 0.4 });
    expect(p.graph).toBe('full');
    expect(p.degree).toBe(9);
    expect(p.threshold).toBeGreaterThan(4); // more than the 4 corrupt clients
    expect(p.threshold).toBeLessThanOrEqual(6); // at most the 6 guaranteed survivors
  });

  test('answers n = 10^6 in both adversary models', () => {
    // No time bound: the jest timeout is the only limit. The finder's cost
    // grows with the degree it searches, not with n.
    const honest = findSecAggPlusParams({ clients: 1_000_000, dropout: 0.05, corrupt: 0.05 });
    const malicious = findSecAggPlusParams({ clients: 1_000_000, dropout: 0.05, corrupt: 0.05, adversary: 'semi-malicious' });
    expect(honest).toEqual({ degree: 38, threshold: 22, graph: 'harary' });
    expect(malicious).toEqual({ degree: 74, threshold: 52, graph: 'harary' });
    expect(2 * malicious.threshold).toBeGreaterThan(malicious.degree);
  });

  test('rejects impossible or malformed requests with typed errors', () => {
    expectFedveilError(() => findSecAggPlusParams({ clients: 100, dropout: 0.5, corrupt: 0.5 }), InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
    expectFedveilError(() => findSecAggPlusParams({ clients: 100, dropout: 0.3, corrupt: 0.4, adversary: 'semi-malicious' }), InfeasibleParameters, 'INFEASIBLE_PARAMETERS');
    expectFedveilError(() => findSecAggPlusParams({ clients: 1, dropout: 0.1, corrupt: 0.1 }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => findSecAggPlusParams({ clients: 100, dropout: -0.1, corrupt: 0.1 }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => findSecAggPlusParams({ clients: 100, dropout: 0.1, corrupt: 0.1, adversary: 'malicious' as never }), InvalidArgument, 'INVALID_ARGUMENT');
  });

  test('hypergeometric pmf sums to one and matches a direct computation', () => {
    const pmf = hypergeometricPmf(50, 20, 10);
    expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // P[X = 3] = C(20,3) C(30,7) / C(50,10)
    const direct = (1140 * 2035800) / 10272278170;
    expect(pmf[3]).toBeCloseTo(direct, 12);
  });
});
