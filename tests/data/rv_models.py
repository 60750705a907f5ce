"""One-variable models, one per distribution, for density and sampler tests."""
import numpy as np

import ppc


def normal(loc, scale):
    x = ppc.Normal(loc, scale)
    return x


def half_normal(scale):
    x = ppc.HalfNormal(scale)
    return x


def half_cauchy(scale):
    x = ppc.HalfCauchy(scale)
    return x


def log_normal(loc, scale):
    x = ppc.LogNormal(loc, scale)
    return x


def exponential(rate):
    x = ppc.Exponential(rate)
    return x


def gamma(concentration, rate):
    x = ppc.Gamma(concentration, rate)
    return x


def beta(a, b):
    x = ppc.Beta(a, b)
    return x


def student_t(df, loc, scale):
    x = ppc.StudentT(df, loc, scale)
    return x


def cauchy(loc, scale):
    x = ppc.Cauchy(loc, scale)
    return x


def uniform(low, high):
    x = ppc.Uniform(low, high)
    return x


def bernoulli_probs(p):
    x = ppc.Bernoulli(probs=p)
    return x


def bernoulli_logits(logits):
    x = ppc.Bernoulli(logits=logits)
    return x


def binomial(n, p):
    x = ppc.Binomial(n, p)
    return x


def poisson(rate):
    x = ppc.Poisson(rate)
    return x


def categorical_probs(p):
    x = ppc.Categorical(probs=p)
    return x


def categorical_logits(logits):
    x = ppc.Categorical(logits=logits)
    return x


def dirichlet(alpha):
    x = ppc.Dirichlet(alpha)
    return x


def mvn(loc, scale_tril):
    x = ppc.MultivariateNormal(loc, scale_tril)
    return x


def named(loc):
    a = ppc.Normal(loc, 1.0, name="alpha")
    b = ppc.Normal(a, 1.0)
    return b


def duplicate(loc):
    a = ppc.Normal(loc, 1.0, name="z")
    b = ppc.Normal(a, 1.0, name="z")
    return b


def unnamed(loc):
    return ppc.Normal(loc, 1.0)


def in_branch(loc):
    if np.sum(loc) > 0:
        a = ppc.Normal(loc, 1.0)
    else:
        a = loc
    return a


def interval_model(data):
    lo = ppc.Normal(0.0, 1.0)
    x = ppc.Uniform(lo, lo + 2.0)
    y = ppc.Normal(x * np.ones_like(data), 1.0)
    return y


def factor_in_branch(x):
    mu = ppc.Normal(0.0, 1.0)
    if x.sum() > 0.0:
        ppc.factor(-mu ** 2)  # ERR
    return mu


def factor_of_integers(x):
    mu = ppc.Normal(0.0, 1.0)
    ppc.factor(x.shape[0] * np.ones(3, np.int64))  # ERR
    return mu


def only_a_factor(x):
    ppc.factor(-0.5 * x ** 2, name="penalty")  # ERR
    return x
