# ppc.sample with a legacy jax.random.PRNGKey (uint32[2], still the most common key in
# user code and NumPyro docs): an obscure JAX slicing error instead of a draw or a clear message.
import jax, ppc
def model():
    z = ppc.Normal(0.0, 1.0)
    return z
print(ppc.sample(model, jax.random.key(0)))
print(ppc.sample(model, jax.random.PRNGKey(0)))
