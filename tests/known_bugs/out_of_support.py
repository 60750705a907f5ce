# Log densities at values outside (or on the edge of) a distribution's support.
# Expected (NumPyro 0.22 / scipy): -inf outside the support; finite where scipy is finite.
import numpy as np, jax, jax.numpy as jnp, ppc, warnings
import numpyro.distributions as nd
warnings.filterwarnings("ignore")
def hn():
    x = ppc.HalfNormal(2.0)
    return x
def ex():
    x = ppc.Exponential(2.5)
    return x
def hc():
    x = ppc.HalfCauchy(2.0)
    return x
def ga():
    x = ppc.Gamma(2.0, 3.0)
    return x
def ln():
    x = ppc.LogNormal(0.0, 1.0)
    return x
def be():
    x = ppc.Beta(1.0, 3.0)
    return x
def bern():
    x = ppc.Bernoulli(probs=0.3)
    return x
for name, model, d, v in [("HalfNormal(2)", hn, nd.HalfNormal(2.0), -1.0), ("Exponential(2.5)", ex, nd.Exponential(2.5), -1.0),
                          ("HalfCauchy(2)", hc, nd.HalfCauchy(2.0), -1.0), ("Gamma(2,3)", ga, nd.Gamma(2.0, 3.0), -1.0),
                          ("LogNormal(0,1)", ln, nd.LogNormal(0.0, 1.0), -1.0), ("Beta(1,3)", be, nd.Beta(1.0, 3.0), 0.0),
                          ("Beta(1,3)", be, nd.Beta(1.0, 3.0), 1.5), ("Bernoulli(probs=.3)", bern, nd.BernoulliProbs(0.3), 2)]:
    print(f"{name} at x={v}: ppc {float(ppc.log_joint(model)(x=v)):.4f}   numpyro {float(d.log_prob(jnp.asarray(v))):.4f}")
print("scipy beta(1,3).logpdf(0) =", __import__("scipy.stats").stats.beta(1, 3).logpdf(0.0))

# Consequence: a negative observation under an Exponential likelihood *raises* the density
# (log(rate) - rate * x grows as x < 0), and NUTS samples a posterior without complaint.
import ppc.infer
def model():
    r = ppc.Gamma(2.0, 1.0)
    y = ppc.Exponential(r * np.ones(3))
    return y
i = ppc.infer.nuts(ppc.condition(model, y=np.array([1.0, 2.0, -1.0])), chains=2, num_warmup=100, num_samples=100, progress=False, diagnose=False)
print("NUTS with an observation of -1 under Exponential: ran, posterior mean of r =", float(i.posterior.r.mean()))
