import jax, ppc
# A user passes a lambda as the model in a dict of models (a plausible pattern).
models = {
    "std": lambda: ppc.Normal(0.0, 1.0, name="z"),
}
try:
    ppc.sample(models["std"], jax.random.key(0))
except Exception as e:
    print(type(e).__name__, e)   # expected: CompileError "'<lambda>' is not defined with 'def'" as elsewhere
