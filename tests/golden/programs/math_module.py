"""math functions: on static numbers they fold at compile time, on arrays they lower."""
import math

ARGS = "f32[]"


def main(x):
    two_pi = 2 * math.pi
    c = math.sqrt(2.0) * math.exp(1.0)
    y = math.exp(x) + math.log(x * x + 1.0) + math.sin(two_pi * x)
    z = math.lgamma(x * x + 1.0) + math.erf(x) + math.tanh(x)
    return y * c, z, math.floor(3.7) + math.e
