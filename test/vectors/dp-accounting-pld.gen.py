"""Generates dp-accounting-pld.json: epsilon(delta) of T rounds of the
Poisson-subsampled Gaussian computed by Google's dp_accounting PLD accountant
at its defaults (PLDAccountant(): value_discretization_interval 1e-4,
pessimistic estimate), and by its RDP accountant (default orders), for a grid
of (q, z, T, delta). Only the numbers are stored.

dp_accounting: github.com/google/differential-privacy commit b5b0286,
python/dp_accounting, imported from a local checkout with absl.logging stubbed.
Run: PYTHONPATH=<stubs>:<checkout>/python/dp_accounting python3 dp-accounting-pld.gen.py
"""
import json, platform, sys, time
import numpy as np, scipy
import dp_accounting
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant

CASES = [  # q, z, T, delta
    (1.0, 400.0, 1, 1e-5), (1.0, 100.0, 1, 1e-5), (1.0, 2.0, 1, 1e-5), (1.0, 0.5, 1, 1e-5), (1.0, 0.2, 1, 1e-5),
    (1.0, 20.0, 10000, 1e-5), (1.0, 300.0, 100000, 1e-6),
    (1e-4, 1.0, 100000, 1e-5), (1e-4, 0.6, 10000, 1e-5), (1e-3, 0.8, 10000, 1e-6), (1e-3, 5.0, 1, 1e-5),
    (0.01, 1.0, 10000, 1e-5), (0.01, 0.7, 300, 1e-5), (0.04, 1.5, 2250, 1e-5), (0.1, 0.9, 1000, 1e-5),
    (0.1, 3.0, 10, 1e-5), (0.3, 1.0, 100, 1e-7), (0.5, 2.0, 100, 1e-5), (0.2, 0.5, 3, 1e-5), (0.9, 1.0, 50, 1e-5),
]
out = {"source": "dp_accounting @ b5b0286 (google/differential-privacy, python/dp_accounting), run locally",
       "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
       "pld": "PLDAccountant() defaults: value_discretization_interval 1e-4, pessimistic", "cases": []}
for q, z, T, delta in CASES:
    ev = dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), T)
    t = time.perf_counter()
    pld = pld_privacy_accountant.PLDAccountant().compose(ev).get_epsilon(delta)
    seconds = time.perf_counter() - t
    rdp = rdp_privacy_accountant.RdpAccountant().compose(ev).get_epsilon(delta)
    out["cases"].append(dict(q=q, z=z, T=T, delta=delta, pld=float(pld), rdp=float(rdp)))
    print(q, z, T, delta, pld, rdp, f"{seconds:.2f}s", file=sys.stderr)
print(json.dumps(out, indent=1))
