"""break and continue inside traced loops, rewritten into structured form."""
ARGS = "f32[10]"


def main(x):
    total = 0.0
    count = 0
    for i in range(10):
        if x[i] < 0:
            continue
        if total > 2.0:
            break
        total = total + x[i]
        count += 1
    k = 0
    while True:
        k += 1
        if x[k] > 1.0 or k >= 9:
            break
    return total, count, k
