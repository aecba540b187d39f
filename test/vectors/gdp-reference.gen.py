"""Generates gdp-reference.json: reference values for the GDP accountant,
computed with mpmath (60 digits) from the definitions, not from fedveil's
closed forms:
- delta(eps) of mu-GDP as the hockey-stick divergence of N(mu, 1) vs N(0, 1),
  int max(0, phi(x - mu) - e^eps phi(x)) dx, by numerical quadrature split at
  the crossing point x* = eps/mu + mu/2 (Dong, Roth, Su 2019, Def. 2 / Cor. 1);
- eps(delta): the root of that integral minus delta (mpmath findroot);
- mu of the Poisson-sampled CLT (Bu, Dong, Long, Su 2020, Thm 5 / Cor. 5):
  q sqrt(T (e^{1/z^2} - 1)), in 60-digit arithmetic.
Run: python3 gdp-reference.gen.py   (mpmath 1.3)
"""
import json
import mpmath as mp
mp.mp.dps = 60

def delta(mu, eps):
    mu, eps = mp.mpf(mu), mp.mpf(eps)
    phi = lambda x: mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)
    xs = eps / mu + mu / 2  # phi(x - mu) > e^eps phi(x) iff x > xs
    f = lambda x: phi(x - mu) - mp.exp(eps) * phi(x)
    return mp.quad(f, [xs, xs + 1, xs + 10, mp.inf])

out = {"source": "mpmath " + mp.__version__ + ", 60 digits, from the definitions (see the generator)", "delta": [], "epsilon": [], "muPoisson": []}
for mu, eps in [(1, 1), (0.5, 0.3), (2, 1), (3, 5), (0.1, 0.05), (6.6, 20)]:
    out["delta"].append(dict(mu=mu, eps=eps, delta=float(delta(mu, eps))))
for mu, d in [(0.1, 1e-5), (1, 1e-5), (3, 1e-5), (1, 1e-8)]:
    e = mp.findroot(lambda e: delta(mu, e) - mp.mpf(d), (mp.mpf("0.01"), mp.mpf(60)), solver="bisect", tol=mp.mpf(10) ** -40)
    out["epsilon"].append(dict(mu=mu, delta=d, epsilon=float(e)))
for q, z, T in [(0.04, 1.5, 2249), (0.01, 1.0, 10000), (1e-3, 0.8, 100000)]:
    out["muPoisson"].append(dict(q=q, z=z, T=T, mu=float(mp.mpf(q) * mp.sqrt(T * mp.expm1(1 / mp.mpf(z) ** 2)))))
print(json.dumps(out, indent=1))
