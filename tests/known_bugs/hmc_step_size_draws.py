# ppc.infer.hmc with a fixed step_size: the chunk that straddles the end of warmup is
# dropped whole, so fewer draws than num_samples come back (or none: a bare ValueError).
import numpy as np, ppc, ppc.infer, warnings
warnings.filterwarnings("ignore")
def m():
    z = ppc.Normal(np.zeros(2), 1.0)
    return z
i = ppc.infer.hmc(m, num_warmup=30, num_samples=100, chains=2, step_size=0.3, progress=False)
print("asked 100 draws, got", i.posterior.sizes["draw"])
i = ppc.infer.hmc(m, num_warmup=30, num_samples=100, chains=2, progress=False)
print("(adapted step size) asked 100 draws, got", i.posterior.sizes["draw"])
try:
    ppc.infer.hmc(m, num_warmup=5, num_samples=5, chains=2, step_size=0.3, progress=False)
except Exception as e:
    print("num_warmup=5, num_samples=5, step_size=0.3:", type(e).__name__, e)
