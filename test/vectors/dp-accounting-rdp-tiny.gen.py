"""Generates dp-accounting-rdp-tiny.json: dp_accounting's RDP -> (eps, delta)
conversion (rdp_privacy_accountant.compute_epsilon / compute_delta) for very
private mechanisms, RDP around 1e-7, at dp_accounting's default orders.
dp_accounting: github.com/google/differential-privacy commit b5b0286,
python/dp_accounting, absl.logging stubbed. Only numbers are stored.
Run: PYTHONPATH=<stubs>:<checkout>/python/dp_accounting python3 dp-accounting-rdp-tiny.gen.py
"""
import json, platform
import numpy as np
from dp_accounting.rdp import rdp_privacy_accountant as r

orders = np.array(r.DEFAULT_RDP_ORDERS, dtype=float) if hasattr(r, "DEFAULT_RDP_ORDERS") else None
if orders is None:
    orders = np.array([1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [128, 256, 512, 1024], dtype=float)
cases = []
# Gaussian-shaped curves rdp(a) = a * rho (rho = 1 / (2 z^2)) and flat curves
for kind, rho in [("linear", 1e-7), ("linear", 5e-8), ("linear", 2e-7), ("linear", 1e-6), ("flat", 1e-7), ("flat", 3e-7)]:
    rdp = orders * rho if kind == "linear" else np.full_like(orders, rho)
    for delta in [1e-5, 1e-6]:
        eps, order = r.compute_epsilon(orders, rdp, delta)
        cases.append(dict(kind=kind, rho=rho, delta=delta, epsilon=float(eps), order=float(order)))
    for eps in [0.001, 0.01]:
        d, order = r.compute_delta(orders, rdp, eps)
        cases.append(dict(kind=kind, rho=rho, epsilonTarget=eps, deltaResult=float(d), order=float(order)))
print(json.dumps({"source": "dp_accounting @ b5b0286 rdp_privacy_accountant.compute_epsilon/compute_delta, run locally",
                  "python": platform.python_version(), "numpy": np.__version__,
                  "orders": [float(o) for o in orders], "cases": cases}, indent=1))
