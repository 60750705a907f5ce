# A recursive call as an operand of `and`/`or` fails result-type inference
# with an internal message ("returns Bottom Bottom").
import numpy as np
import ppc

def reach(n):
    return n > 0 and reach(n - 2)          # Python: always False, terminates

def reach_ifexp(n):                        # same logic as a conditional expression: works
    return reach_ifexp(n - 2) if n > 0 else False

ns = np.array([0, 3, 4])
print("python:", [reach(int(k)) for k in ns])
for f in (reach_ifexp, reach):
    for name, run in [("pc", lambda: ppc.autobatch(f)(ns)),
                      ("local_static", lambda: ppc.autobatch(f, strategy="local_static")(ns)),
                      ("compile", lambda: ppc.compile(f)(np.int64(3)))]:
        try:
            print(f.__name__, name, run())
        except Exception as e:
            print(f.__name__, name, type(e).__name__, str(e).splitlines()[0])
