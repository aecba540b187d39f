# Reference RDP epsilons for test/dp/ledger.test.ts, independent of fedveil:
# the Renyi divergence of PoissonSampled(q, Gaussian(z)) by numerical integration
# (exact binomial sums at integer orders), dp_accounting's default orders and
# epsilon conversion. Run: python3 scripts/rdp-reference.py (needs mpmath).
import mpmath as mp
mp.mp.dps = 40
q = mp.mpf('0.05'); s = mp.mpf('1.1'); delta = mp.mpf('1e-5')
orders = [mp.mpf(i)/10 for i in range(11, 110)] + [mp.mpf(i) for i in range(11, 64)] + [mp.mpf(128), mp.mpf(256), mp.mpf(512), mp.mpf(1024)]
def logA(a):
    if a == int(a):
        a = int(a)
        return mp.log(mp.fsum(mp.binomial(a, k) * (1-q)**(a-k) * q**k * mp.exp((k*k-k)/(2*s*s)) for k in range(a+1)))
    f = lambda x: mp.npdf(x, 0, s) * ((1-q) + q*mp.exp((2*x-1)/(2*s*s)))**a
    return mp.log(mp.quad(f, [-mp.inf, -10, 0, 10, 30, 60, mp.inf]))
rdp = [logA(a)/(a-1) for a in orders]
for T in range(1, 6):
    best = None
    for a, r in zip(orders, rdp):
        e = T*r - (mp.log(delta) + mp.log(a))/(a-1) + mp.log((a-1)/a)
        if best is None or e < best[0]: best = (e, a)
    print(T, mp.nstr(best[0], 15), mp.nstr(best[1], 5))
