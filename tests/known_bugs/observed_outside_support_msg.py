# Observed data outside its distribution's support: NUTS blames the starting points and
# advises init=, which cannot help; nothing names the variable or the data.
import numpy as np, ppc, ppc.infer
def model():
    p = ppc.Beta(2.0, 2.0)
    y = ppc.Beta(p * 5 * np.ones(3), 2.0)
    return y
ppc.infer.nuts(ppc.condition(model, y=np.array([0.2, 0.5, 1.5])), chains=2, num_warmup=20, num_samples=20, progress=False)
