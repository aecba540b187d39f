"""Generates distributed-dp-authors.json: RDP curves and epsilons of the DDG and
Skellam mechanisms computed by the authors' accounting code (Kairouz, Liu,
Steinke 2021; Agarwal, Kairouz, Liu 2021): google-research/federated,
distributed_dp/accounting_utils.py (commit a5af8c4). That code is NOT part of
fedveil; this script imports it from a local checkout.

Run: PYTHONPATH=<stubs>:<dp_accounting>:<dir of accounting_utils.py> python3 distributed-dp-authors.gen.py
Stubs: `absl.logging` (no-op) and `tensorflow_privacy.get_privacy_spent`,
implemented with dp_accounting.rdp.rdp_privacy_accountant.compute_epsilon
(github.com/google/differential-privacy commit b5b0286).
Units: gamma = 1 (scale 1) and rounding=False, so sigma, sensitivities and
variances are in the integer units of fedveil's events.
"""
import json, math, platform
import numpy as np, scipy
import accounting_utils as au
import tensorflow_privacy as tfp

ORDERS = list(au.RDP_ORDERS)
ddg_cases = [
    dict(sigma=0.7, clients=100, l2=10.0, l1=80.0, dim=64, q=1.0, steps=1),
    dict(sigma=0.7, clients=100, l2=10.0, l1=80.0, dim=64, q=0.1, steps=100),
    dict(sigma=0.55, clients=20, l2=30.0, l1=300.0, dim=1000, q=1.0, steps=10),
    dict(sigma=0.6, clients=1000, l2=20.0, l1=400.0, dim=4096, q=1.0, steps=1),
    dict(sigma=27.1, clients=100, l2=101.3, l1=3241.0, dim=1024, q=0.1, steps=100),
    dict(sigma=1.0, clients=50, l2=5.0, l1=25.0, dim=100, q=0.01, steps=1000),
]
sk_cases = [
    dict(mu=50.0, clients=100, l2=101.3, l1=3241.0, dim=1024, q=1.0, steps=1),
    dict(mu=50.0, clients=100, l2=101.3, l1=3241.0, dim=1024, q=0.1, steps=100),
    dict(mu=2.0, clients=10, l2=10.0, l1=50.0, dim=64, q=0.05, steps=500),
    dict(mu=0.5, clients=20, l2=4.0, l1=16.0, dim=16, q=1.0, steps=20),
]
DELTA = 1e-5
out = {"source": "google-research/federated distributed_dp/accounting_utils.py @ a5af8c4, run locally",
       "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
       "delta": DELTA, "orders": ORDERS, "ddg": [], "skellam": []}
for c in ddg_cases:
    tau = 10 * sum(math.exp(-2 * (math.pi * c["sigma"]) ** 2 * (k / (k + 1))) for k in range(1, c["clients"]))
    s = math.sqrt(c["clients"]) * c["sigma"]
    rdp = au.compute_rdp_dgaussian(c["q"], c["l1"] / s, c["l2"] / s, tau, c["dim"], c["steps"], ORDERS)
    eps, _, order = tfp.get_privacy_spent(ORDERS, rdp, target_delta=DELTA)
    eps2, order2 = au.ddgauss_epsilon(1.0, c["sigma"], c["clients"], c["l2"], 0.0, c["dim"], c["q"], c["steps"], DELTA, l1_sens=c["l1"], rounding=False)
    out["ddg"].append(dict(c, tau=tau, rdp=[float(v) for v in rdp], epsilon=float(eps), order=float(order), epsilonDdgaussEpsilon=float(eps2)))
for c in sk_cases:
    central_stddev = math.sqrt(2 * c["clients"] * c["mu"])
    eps, order = au.skellam_epsilon(1.0, central_stddev, c["l2"], 0.0, c["dim"], c["q"], c["steps"], DELTA, l1_sens=c["l1"], rounding=False)
    fn = lambda a: au._skellam_rdp(c["l1"], c["l2"], central_stddev ** 2, 1.0, a)
    rdp = [c["steps"] * (fn(a) if c["q"] == 1 else min(au._compute_rdp_subsampled(a, c["q"], fn), fn(a))) for a in ORDERS]
    out["skellam"].append(dict(c, rdp=[float(v) for v in rdp], epsilon=float(eps), order=float(order)))
out["rounding"] = [dict(c=c, d=d, beta=b, bound=float(au.rounded_l2_norm_bound(c, b, d)))
                   for (c, d, b) in [(10.0, 100, math.exp(-0.5)), (100.0, 1024, math.exp(-0.5)), (3.0, 4096, 1e-3), (1000.0, 16, 0.5)]]
print(json.dumps(out, indent=1))
