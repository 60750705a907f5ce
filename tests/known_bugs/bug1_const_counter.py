# Recursion whose counter argument starts as a Python int constant but whose
# stop condition is traced -> raw RecursionError deep in the frontend.
import numpy as np
import ppc

def count_up(i, n):
    if i >= n:
        return i
    return count_up(i + 1, n)

def main(n):
    return count_up(0, n)

ns = np.array([0, 3, 5])
print("python:", [main(int(k)) for k in ns])          # [0, 3, 5]
for name, run in [("pc", lambda: ppc.autobatch(main)(ns)),
                  ("local_static", lambda: ppc.autobatch(main, strategy="local_static")(ns)),
                  ("compile", lambda: ppc.compile(main)(np.int64(3)))]:
    try:
        print(name, run())
    except Exception as e:
        print(name, type(e).__name__, str(e)[:200])
