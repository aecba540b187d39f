/**
 * Special functions against scipy.special 1.17 (values printed by
 * `python3 -c "from scipy import special; print(special.log_ndtr(z))"` etc.).
 */
import { erfc, logAdd, logNormalCdf, logSub, normalCdf, normalPpf } from '../../src/dp/special.js';

const LOG_NDTR: Array<[number, number]> = [[-40, -804.6084420137539], [-30, -454.32124395634327], [-20, -203.9171553710973], [-10, -53.23128515051248], [-8, -35.01343715991456], [-5, -15.064998393988727], [-3, -6.60772622151035], [-2.83, -6.063003425465196], [-2.8, -5.9696520466752085], [-2, -3.7831843336820317], [-1.5, -2.7059444008238898], [-1, -1.8410216450092634], [-0.5, -1.1759117615936188], [-0.1, -0.7761545927302733], [0, -0.6931471805599453], [0.3, -0.4814101615884813], [1, -0.1727537790234499], [1.414, -0.08194888712436627], [2.5, -0.00622902548586], [2.83, -0.0023301128122891826], [3, -0.0013508099647481925], [5, -2.8665161296376294e-07], [8, -6.220960574271742e-16]];
const ERFC: Array<[number, number]> = [[0.1, 0.8875370839817152], [0.5, 0.4795001221869535], [1, 0.15729920705028516], [1.9, 0.007209570764742531], [1.99, 0.004888586800383002], [2, 0.004677734981047266], [2.01, 0.004475150644751764], [2.5, 0.00040695201744495886], [3, 2.2090496998585445e-05], [5, 1.5374597944280347e-12], [10, 2.0884875837625446e-45], [20, 5.395865611607901e-176]];
const NDTRI: Array<[number, number]> = [[1e-300, -37.0470962993612], [1e-22, -9.741789943090927], [1e-10, -6.361340902404056], [0.001, -3.090232306167813], [0.3, -0.5244005127080409], [0.5, 0.0], [0.7, 0.5244005127080407], [0.999, 3.090232306167813], [0.999999999999, 7.0344869100478356]];

const rel = (a: number, b: number) => (b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b));

describe('special functions (vs scipy.special)', () => {
  test('log Phi to 1e-13 relative, from -40 (Phi underflows) to 8', () => {
    for (const [z, v] of LOG_NDTR) expect(rel(logNormalCdf(z), v)).toBeLessThan(1e-13);
  });
  test('erfc to 1e-13 relative across the series / continued-fraction switch at 2', () => {
    for (const [x, v] of ERFC) expect(rel(erfc(x), v)).toBeLessThan(1e-13);
    expect(erfc(0)).toBe(1);
    expect(Math.abs(erfc(-1) - (2 - 0.15729920705028516))).toBeLessThan(1e-15);
  });
  test('normal quantile to 1e-12 relative', () => {
    for (const [p, v] of NDTRI) expect(Math.abs(normalPpf(p) - v)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(v)));
  });
  test('Phi(z) + Phi(-z) = 1 and log-space helpers', () => {
    for (const z of [0, 0.3, 1.7, 4]) expect(Math.abs(normalCdf(z) + normalCdf(-z) - 1)).toBeLessThan(1e-15);
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logAdd(-Infinity, 1)).toBe(1);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 14);
    expect(logSub(1, 1)).toBe(-Infinity);
  });
});
