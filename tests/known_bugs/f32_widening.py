# A float32 model whose log density comes out float64: NUTS and HMC then fail with an
# internal type error pointing into ppc/infer (README: a float32 model has a float32
# log density and gradient, and nuts runs it in float32).
import numpy as np, ppc, ppc.infer, warnings
warnings.filterwarnings("ignore")
def mvn():
    x = ppc.MultivariateNormal(np.zeros(2, np.float32), np.eye(2, dtype=np.float32))
    return x
def dirichlet():
    p = ppc.Dirichlet(np.ones(3, np.float32))
    return p
x = np.linspace(-1, 1, 10)   # float64 data (NumPy's default) with a float32 latent
def regression(x):
    w = ppc.Normal(np.float32(0.0), np.float32(1.0))
    y = ppc.Normal(w * x, 1.0)
    return y
print("MVN f32 log_joint dtype:", np.asarray(ppc.log_joint(mvn)(x=np.zeros(2, np.float32))).dtype)
for name, m, args in [("mvn", mvn, ()), ("dirichlet", dirichlet, ()), ("f64 data", ppc.condition(regression, y=2 * x), (x,))]:
    u = ppc.unconstrained(m, *args)
    print(name, "theta", u.dtype, "log_density", np.asarray(u.log_density(np.zeros(u.size, u.dtype))).dtype)
    for s in ("nuts", "hmc"):
        try:
            getattr(ppc.infer, s)(m, *args, chains=2, num_warmup=20, num_samples=20, progress=False)
            print("  ", s, "ran")
        except Exception as e:
            print("  ", s, type(e).__name__, str(e).splitlines()[0])
