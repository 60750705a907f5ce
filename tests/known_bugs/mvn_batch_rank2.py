# MultivariateNormal with a loc of batch rank 2 (shape (2, 3, 2)): NumPyro handles it;
# ppc's log density fails to compile, with an error pointing into ppc/distributions.py.
import numpy as np, jax, jax.numpy as jnp, ppc
import numpyro.distributions as nd
L = np.array([[2.0, 0.0], [0.5, 1.5]])
loc = np.zeros((2, 3, 2))
x = np.arange(12.0).reshape(2, 3, 2) / 10
def model(loc):
    x = ppc.MultivariateNormal(loc, L)
    return x
print("numpyro:", float(jnp.sum(nd.MultivariateNormal(loc, scale_tril=L).log_prob(x))))
print("ppc.sample shape:", ppc.sample(model, jax.random.key(0), loc)["x"].shape)
print("ppc:", ppc.log_joint(model)(loc, x=x))
