# log_joint does not check the shapes of latent values: a wrongly shaped value either
# returns a non-scalar "log density" silently or fails deep in JAX without naming the variable.
import numpy as np, ppc
def model():
    mu = ppc.Normal(0.0, 1.0)
    y = ppc.Normal(mu * np.ones(3), 1.0)    # y has shape (3,)
    return y
lj = ppc.log_joint(model)
print("correct:", lj(mu=0.5, y=np.zeros(3)))
print("y of shape (2, 3):", lj(mu=0.5, y=np.zeros((2, 3))))    # a 3x3 array, no error
try:
    lj(mu=np.zeros(2), y=np.zeros(3))
except Exception as e:
    print("mu of shape (2,):", type(e).__name__, e)                # 'sub got incompatible shapes' - no variable named
