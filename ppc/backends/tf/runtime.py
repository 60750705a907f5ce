"""What generated TensorFlow code calls besides `tf.*` (imported there as `ppc_tf`): the few
XLA operations TF has no public op for, and the PRNG.

Everything here runs inside `tf.function(jit_compile=True)`, on static shapes, or eagerly
for a module with host control flow (local static batching of recursion).

PRNG. A key is one int64 holding the two 32-bit words of a threefry-2x32 key (JAX's
default PRNG: `jax.random.key_data` gives the same two words), so `key[...]` IR values
are int64 tensors of the same shape, and every op that moves data (select, slices,
broadcasts, the machine's storage files) treats keys like any other array. Bits come from
threefry-2x32 (Salmon et al. 2011) written in TF integer ops, so draws vectorize over any
batch of keys (TF's own stateless ops take one seed, and its gamma, Poisson and binomial
samplers have no XLA kernel). Draws agree with JAX's in distribution, not bit for bit.
"""
from __future__ import annotations

import math

import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

_MASK32 = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# Counter streams: the second counter word says what the bits are for, so a key's split
# and its draws never share bits. Rejection samplers take two streams per round from 16 on.
_SPLIT, _DRAW, _BOOST, _FOLD, _LOOP = 0, 1, 2, 3, 16
_MAX_ROUNDS = 10000  # a rejection loop's bound, reached only for NaN parameters (gamma then gives NaN)


# --- XLA operations --------------------------------------------------------------------------

def _nonzero(b):
    """Integer divisors with 0 replaced by 1. XLA defines integer division by zero; eager TF
    raises, and eager code (host-batched recursion) divides for masked-out members too."""
    return tf.where(tf.equal(b, 0), tf.ones_like(b), b) if b.dtype.is_integer else b


def maximum(x, y):
    """max(x, y) as XLA defines it (and JAX gives): NaN where either is NaN (TF's
    tf.maximum drops a NaN second operand), and +0.0 where one is +0.0 and the other -0.0
    (IEEE 754-2019's maximum; TF returns either zero). Ties of zeros add: -0 + 0 is +0."""
    if not x.dtype.is_floating:
        return tf.where(tf.less(x, y), y, x)
    out = tf.where(tf.less(x, y) | tf.math.is_nan(y), y, x)
    return tf.where(tf.equal(x, 0) & tf.equal(y, 0), x + y, out)


def minimum(x, y):
    """min(x, y) as XLA defines it (and JAX gives): NaN where either is NaN, and -0.0 where
    one is -0.0 and the other +0.0 (-(-x + -y): -0 wins)."""
    if not x.dtype.is_floating:
        return tf.where(tf.less(y, x), y, x)
    out = tf.where(tf.less(y, x) | tf.math.is_nan(y), y, x)
    return tf.where(tf.equal(x, 0) & tf.equal(y, 0), -(-x + -y), out)


def _reduce_extremum(x, axis, is_max: bool):
    reduce = tf.reduce_max if is_max else tf.reduce_min
    if not x.dtype.is_floating or x.shape.num_elements() == 0:
        return reduce(x, axis=axis)
    # Zeros signed as XLA's (+0 for max if any zero reduced is +0, -0 for min if any is -0):
    # reduce the floats' bits mapped to integers in IEEE total order (-0 < +0), one
    # reduction. (Fixing up `out` with a second reduction of x, as before, hung XLA's CPU
    # compiler when x came from random_normal.)
    ibits = {2: tf.int16, 4: tf.int32, 8: tf.int64}[x.dtype.size]
    shift = 8 * x.dtype.size - 1
    low = tf.constant(2 ** shift - 1, ibits)

    def flip(b):  # an involution: negative floats' magnitude bits reversed
        return tf.bitwise.bitwise_xor(b, tf.bitwise.bitwise_and(tf.bitwise.right_shift(b, shift), low))
    out = tf.bitcast(flip(reduce(flip(tf.bitcast(x, ibits)), axis=axis)), x.dtype)
    return tf.where(tf.reduce_any(tf.math.is_nan(x), axis=axis), tf.constant(math.nan, x.dtype), out)


def reduce_max(x, axis):
    """reduce_max as XLA defines it (and JAX gives): NaN wherever the reduced values hold a
    NaN (TF's reductions skip it), and a zero result +0.0 if any zero reduced is +0.0."""
    return _reduce_extremum(x, axis, True)


def reduce_min(x, axis):
    """reduce_min as XLA defines it: NaN wherever a NaN is reduced, and a zero result -0.0
    if any zero reduced is -0.0."""
    return _reduce_extremum(x, axis, False)


def floordiv(a, b):
    """Integer a // 0 as jnp.floor_divide gives it on XLA (whose quotient by zero is -1, then
    floored by the remainder a's sign): -1 for a == 0, else -2."""
    q = tf.math.floordiv(a, _nonzero(b))
    if not b.dtype.is_integer:
        return q
    if b.dtype.is_unsigned:  # XLA's unsigned quotient by zero: every bit set
        return tf.where(tf.equal(b, 0), tf.fill(tf.shape(q), tf.constant(b.dtype.max, b.dtype)), q)
    by_zero = tf.where(tf.equal(a, 0), -tf.ones_like(q), -2 * tf.ones_like(q))
    return tf.where(tf.equal(b, 0), by_zero, q)


def floormod(a, b):
    return tf.math.floormod(a, _nonzero(b))


def _indices(idx):
    return tf.stack([tf.cast(i, tf.int64) for i in idx])


def dynamic_slice(x, idx, sizes):
    """lax.dynamic_slice: start indices clamped so the slice fits."""
    return xla.dynamic_slice(x, _indices(idx), list(sizes)) if idx else x


def dynamic_update_slice(x, update, idx):
    """lax.dynamic_update_slice: start indices clamped so the update fits."""
    return xla.dynamic_update_slice(x, update, _indices(idx)) if idx else update


def pad(x, value, low, high, interior):
    """lax.pad: low/high padding (negative trims) and interior padding between elements."""
    return xla.pad(x, value, list(low), list(high), list(interior))


def dot_general(x, y, dimension_numbers):
    """lax.dot_general as an einsum: batch axes, then x's free axes, then y's."""
    (xc, yc), (xb, yb) = dimension_numbers
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sx = [next(letters) for _ in range(x.shape.rank)]
    sy = [next(letters) for _ in range(y.shape.rank)]
    for a, b in zip(list(xc) + list(xb), list(yc) + list(yb)):
        sy[b] = sx[a]
    out = [sx[i] for i in xb] + [s for i, s in enumerate(sx) if i not in xc and i not in xb] + \
          [s for i, s in enumerate(sy) if i not in yc and i not in yb]
    spec = f"{''.join(sx)},{''.join(sy)}->{''.join(out)}"
    if x.dtype in (tf.int32, tf.int64) or x.dtype.is_floating:
        return tf.einsum(spec, x, y)
    # XLA has no Einsum kernel for unsigned or 8-/16-bit integers: multiply and sum in
    # int64 (uint64 as its bits) and cast back, which wraps as their own width would
    wide = [tf.bitcast(v, tf.int64) if v.dtype == tf.uint64 else tf.cast(v, tf.int64) for v in (x, y)]
    out = tf.einsum(spec, *wide)
    return tf.bitcast(out, tf.uint64) if x.dtype == tf.uint64 else tf.cast(out, x.dtype)


def iota(dtype, shape, dimension):
    """lax.broadcasted_iota: 0, 1, ... along `dimension`, broadcast over the other axes."""
    n = shape[dimension]
    line = tf.cast(tf.range(n, dtype=tf.int64), dtype)
    return tf.broadcast_to(tf.reshape(line, [n if i == dimension else 1 for i in range(len(shape))]), shape)


def logaddexp(x, y):
    """log(exp(x) + exp(y)) without overflow; infinities of one sign give themselves."""
    delta = x - y
    return tf.where(tf.math.is_nan(delta), x + y, tf.maximum(x, y) + tf.math.log1p(tf.exp(-tf.abs(delta))))


def triangular_solve(a, b, lower, transpose_a):
    """Solves a x = b (a^T x = b with transpose_a) for a triangular, batched over leading
    axes; b a vector (against one matrix) or matrices."""
    vector = b.shape.rank == 1
    x = tf.linalg.triangular_solve(a, b[:, tf.newaxis] if vector else b, lower=lower, adjoint=transpose_a)
    return x[:, 0] if vector else x


def cumsum(x, axis, reverse):
    """tf.cumsum for every dtype: XLA has Cumsum kernels for no unsigned and no 8- or
    16-bit integers, so those are summed as int64 (the bits of uint64) and cast back,
    which wraps as summing in their own width would."""
    if x.dtype in (tf.int32, tf.int64) or x.dtype.is_floating:
        return tf.cumsum(x, axis=axis, reverse=reverse)
    wide = tf.bitcast(x, tf.int64) if x.dtype == tf.uint64 else tf.cast(x, tf.int64)
    out = tf.cumsum(wide, axis=axis, reverse=reverse)
    return tf.bitcast(out, tf.uint64) if x.dtype == tf.uint64 else tf.cast(out, x.dtype)


# --- the program-counter machine -------------------------------------------------------------

def switch(index, branches):
    """Runs branch `index`, clamped into range (as lax.switch does)."""
    return tf.switch_case(tf.clip_by_value(tf.cast(index, tf.int32), 0, len(branches) - 1), branches)


def file_write(file, row, value):
    """The file with row `row` replaced by `value`, in place."""
    return dynamic_update_slice(file, value[tf.newaxis], [row] + [0] * (file.shape.rank - 1))


def _member_index(row, frames):
    b = frames.shape[0]
    frames = tf.cast(frames, tf.int64)
    return tf.stack([tf.fill([b], tf.cast(row, tf.int64)), frames, tf.range(b, dtype=tf.int64)], axis=1)


def stack_read(file, row, frames):
    """Member b's value in frame frames[b] of row `row` of a stack file [rows, frames, B, ...]."""
    return tf.gather_nd(file, _member_index(row, frames))


def stack_write(file, row, frames, value):
    """The stack file with member b's value[b] written to frame frames[b] of row `row`."""
    return tf.tensor_scatter_nd_update(file, _member_index(row, frames), value)


def file_patch(file, row, index, update):
    """The register file [rows, B, ...] with member b's window update[b] written into row
    `row` at index[b] = (member, start per cell axis); a member index of B writes nothing."""
    b, window = index.shape[0], update.shape[1:]
    grids = tf.meshgrid(*[tf.range(n, dtype=tf.int64) for n in window], indexing="ij")
    offsets = tf.stack([tf.reshape(g, [-1]) for g in grids], axis=1) if window else tf.zeros([1, 0], tf.int64)
    cells = offsets.shape[0]
    index = tf.cast(index, tf.int64)
    at = index[:, None, 1:] + offsets[None]  # [B, cells, k]
    member = tf.broadcast_to(index[:, None, :1], [b, cells, 1])
    full = tf.concat([tf.fill([b, cells, 1], tf.cast(row, tf.int64)), member, at], axis=2)
    keep = index[:, 0] < b
    full = tf.boolean_mask(full, keep)
    values = tf.boolean_mask(tf.reshape(update, [b, cells]), keep)
    return tf.tensor_scatter_nd_update(file, tf.reshape(full, [-1, 2 + len(window)]), tf.reshape(values, [-1]))


# --- PRNG ------------------------------------------------------------------------------------

def _words(key):
    """The two uint32 words of packed keys."""
    hi = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(key, 32), _MASK32), tf.uint32)
    lo = tf.cast(tf.bitwise.bitwise_and(key, _MASK32), tf.uint32)
    return hi, lo


def _pack(hi, lo):
    return tf.bitwise.bitwise_or(tf.bitwise.left_shift(tf.cast(hi, tf.int64), 32), tf.cast(lo, tf.int64))


def _rotl(x, r):
    return tf.bitwise.bitwise_or(tf.bitwise.left_shift(x, tf.constant(r, tf.uint32)),
                                 tf.bitwise.right_shift(x, tf.constant(32 - r, tf.uint32)))


def _threefry2x32(k0, k1, x0, x1):
    """The threefry-2x32 block cipher, 20 rounds: counters (x0, x1) under key (k0, k1)."""
    ks = (k0, k1, k0 ^ k1 ^ tf.constant(0x1BD11BDA, tf.uint32))
    x0, x1 = x0 + k0, x1 + k1
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + tf.constant(i + 1, tf.uint32)
    return x0, x1


def _bits(key, shape, stream):
    """Two words of random bits for each of `shape` elements under each key:
    uint32 arrays of shape key.shape + shape."""
    shape = [int(d) for d in shape]
    hi, lo = _words(key)
    tail = [1] * len(shape)
    k0 = tf.reshape(hi, hi.shape.as_list() + tail)
    k1 = tf.reshape(lo, lo.shape.as_list() + tail)
    n = math.prod(shape)
    counter = tf.reshape(tf.cast(tf.range(n, dtype=tf.int64), tf.uint32), shape)
    full = key.shape.as_list() + shape
    x0 = tf.broadcast_to(counter, full)
    x1 = tf.broadcast_to(tf.cast(stream, tf.uint32), full)
    return _threefry2x32(tf.broadcast_to(k0, full), tf.broadcast_to(k1, full), x0, x1)


def _unit(key, shape, dtype, stream, open_interval):
    """Uniform floats in [0, 1) (in (0, 1) with `open_interval`), full mantissa precision."""
    y0, y1 = _bits(key, shape, stream)
    half = 0.5 if open_interval else 0.0
    if dtype == tf.float64:
        hi = tf.cast(tf.bitwise.right_shift(y0, tf.constant(6, tf.uint32)), tf.float64)
        lo = tf.cast(tf.bitwise.right_shift(y1, tf.constant(5, tf.uint32)), tf.float64)
        return (hi * 2.0 ** 27 + lo + half) * 2.0 ** -53
    u = (tf.cast(tf.bitwise.right_shift(y0, tf.constant(8, tf.uint32)), tf.float32) + half) * 2.0 ** -24
    return tf.cast(u, dtype)


def random_seed(seed):
    """jax.random.key(seed): the seed's high and low 32-bit words."""
    return tf.cast(seed, tf.int64)


def random_split(key, num):
    """`num` new keys from each key: shape key.shape + (num,)."""
    y0, y1 = _bits(key, (num,), _SPLIT)
    return _pack(y0, y1)


def random_wrap(data):
    """Keys of legacy uint32 key data (..., 2): the two words packed."""
    return _pack(data[..., 0], data[..., 1])


def random_fold_in(key, data):
    """A new key from each key and an integer (its low 32 bits, as JAX's): the cipher of
    the counters (data, _FOLD) under the key."""
    hi, lo = _words(key)
    x0 = tf.broadcast_to(tf.cast(tf.bitwise.bitwise_and(tf.cast(data, tf.int64), _MASK32), tf.uint32), hi.shape)
    y0, y1 = _threefry2x32(hi, lo, x0, tf.fill(tf.shape(hi), tf.constant(_FOLD, tf.uint32)))
    return _pack(y0, y1)


def random_uniform(key, shape, dtype):
    return _unit(key, shape, dtype, _DRAW, False)


def random_normal(key, shape, dtype):
    """Standard normals by inverting the CDF of open-interval uniforms (as JAX does)."""
    u = _unit(key, shape, dtype, _DRAW, True)
    return tf.cast(math.sqrt(2.0), dtype) * tf.math.erfinv(2.0 * u - 1.0)


def _per_key(key, param):
    """The shape each key draws for a parameter array shaped key.shape + that shape."""
    return param.shape.as_list()[key.shape.rank:]


def _rejection(key, shape, init, step):
    """Runs `step(round, bits(stream a), bits(stream b), done, value) -> (accepted, value)`
    until every element has accepted (each round draws from fresh streams)."""
    def cond(i, done, value):
        return tf.logical_and(tf.logical_not(tf.reduce_all(done)), i < _MAX_ROUNDS)

    def body(i, done, value):
        stream = tf.cast(_LOOP + 2 * i, tf.uint32)
        accepted, value = step(i, stream, stream + tf.constant(1, tf.uint32), done, value)
        return i + 1, tf.logical_or(done, accepted), value

    done0 = tf.zeros(key.shape.as_list() + list(shape), tf.bool)
    return tf.while_loop(cond, body, (tf.constant(0, tf.int32), done0, init))[2]


def random_gamma(key, alpha):
    """Gamma(alpha, 1) draws shaped like alpha: Marsaglia and Tsang's method (2000), with
    alpha < 1 boosted to alpha + 1 and scaled by u ** (1 / alpha)."""
    dtype = alpha.dtype
    shape = _per_key(key, alpha)
    small = alpha < 1.0
    a = tf.where(small, alpha + 1.0, alpha)
    d = a - 1.0 / 3.0
    c = 1.0 / tf.sqrt(9.0 * d)

    def step(i, s1, s2, done, value):
        z = tf.cast(math.sqrt(2.0), dtype) * tf.math.erfinv(2.0 * _unit(key, shape, dtype, s1, True) - 1.0)
        u = _unit(key, shape, dtype, s2, True)
        v = (1.0 + c * z) ** 3
        safe_v = tf.where(v > 0.0, v, tf.ones_like(v))
        ok = (v > 0.0) & (tf.math.log(u) < 0.5 * z * z + d - d * safe_v + d * tf.math.log(safe_v))
        return ok, tf.where(ok & ~done, d * safe_v, value)
    g = _rejection(key, shape, tf.fill(tf.shape(alpha), tf.constant(math.nan, dtype)), step)
    boost = _unit(key, shape, dtype, _BOOST, True) ** (1.0 / alpha)
    return tf.where(small, g * boost, g)


def random_poisson(key, rate):
    """Poisson draws (int64) shaped like `rate`: Knuth's product of uniforms below rate 10,
    Hörmann's transformed rejection (PTRS, 1993) from 10 on."""
    dtype = rate.dtype
    shape = _per_key(key, rate)
    large = rate >= 10.0
    # Knuth: the number of uniforms whose running product stays above exp(-rate)
    limit = tf.exp(-tf.where(large, tf.zeros_like(rate), rate))

    def knuth(i, s1, s2, done, value):
        count, prod = value
        prod = prod * _unit(key, shape, dtype, s1, False)
        stop = prod <= limit
        return stop, (tf.where(done | stop, count, count + 1.0), prod)
    knuth_count, _ = _rejection(key, shape, (tf.zeros_like(rate), tf.ones_like(rate)), knuth)

    lam = tf.where(large, rate, tf.fill(tf.shape(rate), tf.constant(10.0, dtype)))
    log_lam = tf.math.log(lam)
    b = 0.931 + 2.53 * tf.sqrt(lam)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)

    def ptrs(i, s1, s2, done, value):
        u = _unit(key, shape, dtype, s1, True) - 0.5
        v = _unit(key, shape, dtype, s2, True)
        us = 0.5 - tf.abs(u)
        k = tf.floor((2.0 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= vr)
        bound = tf.math.log(v) + tf.math.log(inv_alpha) - tf.math.log(a / (us * us) + b)
        ok = quick | ((k >= 0.0) & ~((us < 0.013) & (v > us)) &
                      (bound <= -lam + k * log_lam - tf.math.lgamma(tf.maximum(k, 0.0) + 1.0)))
        return ok, tf.where(ok & ~done, k, value)
    ptrs_count = _rejection(key, shape, tf.zeros_like(rate), ptrs)
    count = tf.where(large, ptrs_count, knuth_count)
    return tf.cast(tf.where(rate > 0.0, count, tf.zeros_like(count)), tf.int64)


def random_binomial(key, n, p):
    """Binomial(n, p) draws, in p's dtype: successes counted by geometric waiting times
    between them (rounds ~ n min(p, 1 - p)), mirrored for p > 1/2."""
    dtype = p.dtype
    shape = _per_key(key, p)
    n = tf.cast(n, dtype)
    q = tf.minimum(p, 1.0 - p)
    log_miss = tf.math.log1p(-q)

    def step(i, s1, s2, done, value):
        count, position = value
        gap = tf.floor(tf.math.log(_unit(key, shape, dtype, s1, True)) / log_miss) + 1.0
        position = position + gap
        past = position > n
        return past, (tf.where(done | past, count, count + 1.0), position)
    count, _ = _rejection(key, shape, (tf.zeros_like(p), tf.zeros_like(p)), step)
    return tf.where(p > 0.5, n - count, count)


def random_categorical(key, logits):
    """Category indices (int64) along the last axis of `logits`, by the Gumbel-max trick."""
    u = _unit(key, _per_key(key, logits), logits.dtype, _DRAW, True)
    return tf.argmax(logits - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int64)


# --- indexing by an integer array (ppc/ir/prims/gather.py) ------------------------------------

def _wrapped(idx, n):
    """int64 indices with negatives counted from the end once, and whether each is in range.
    tf.gather and tf.math.unsorted_segment_sum raise on CPU for a bad index: none is passed."""
    idx = tf.cast(idx, tf.int64)
    idx = tf.where(idx < 0, idx + n, idx)
    return idx, (idx >= 0) & (idx < n)


def _fill_value(dtype, mode):
    """jnp.take's fill for an out-of-range index (mode "fill"), or zero."""
    if mode == "zero":
        return tf.zeros([], dtype)
    if dtype.is_floating:
        return tf.constant(math.nan, dtype)
    if dtype == tf.bool:
        return tf.constant(True)
    return tf.constant(dtype.max if dtype.is_unsigned else dtype.min, dtype)


def take(x, idx, axis, mode):
    """jnp.take(x, idx, axis, mode="fill"), or a zero fill: out-of-range indices read
    element 0 (where there is one) and are then replaced by the fill."""
    n = x.shape[axis]
    idx, inside = _wrapped(idx, n)
    shape = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    fill = tf.fill(shape, _fill_value(x.dtype, mode))
    if n == 0:
        return fill
    out = tf.gather(x, tf.where(inside, idx, tf.zeros_like(idx)), axis=axis)
    mask = tf.reshape(inside, [1] * axis + idx.shape.as_list() + [1] * (x.shape.rank - axis - 1))
    return tf.where(tf.broadcast_to(mask, shape), out, fill)


def scatter_add(ct, idx, axis, size):
    """Zeros of length `size` along `axis` with each slice of ct added at its index
    (repeats accumulate); out-of-range indices are dropped (segment id -1)."""
    k, rank = idx.shape.rank, ct.shape.rank
    idx, inside = _wrapped(idx, size)
    first = list(range(axis, axis + k)) + list(range(axis)) + list(range(axis + k, rank))
    summed = tf.math.unsorted_segment_sum(tf.transpose(ct, first), tf.where(inside, idx, -tf.ones_like(idx)), size)
    back = list(range(1, axis + 1)) + [0] + list(range(axis + 1, summed.shape.rank))
    return tf.transpose(summed, back)


_SEGMENT = {"mul": tf.math.unsorted_segment_prod, "min": tf.math.unsorted_segment_min,
            "max": tf.math.unsorted_segment_max}
_COMBINE = {"mul": tf.multiply, "min": tf.minimum, "max": tf.maximum}


def scatter(x, v, idx, axis, combine):
    """x.at[idx].multiply/min/max(v, mode="drop") along `axis`: the updates at each index
    combined (segment ids, out-of-range ones -1, so dropped), then combined with x where
    an update landed (elsewhere x exactly). Floats as XLA's max/min: a NaN among the
    contenders gives NaN (TF's segment reductions skip it), and a segment of -inf only
    has max -inf (TF starts from the lowest finite value; +inf for min alike)."""
    n, k, rank = int(x.shape[axis]), idx.shape.rank, v.shape.rank
    idx, inside = _wrapped(idx, n)
    seg = tf.where(inside, idx, -tf.ones_like(idx))
    first = list(range(axis, axis + k)) + list(range(axis)) + list(range(axis + k, rank))
    back = list(range(1, axis + 1)) + [0] + list(range(axis + 1, x.shape.rank))
    vt = tf.transpose(v, first)

    def per_index(values, reduce):
        return tf.transpose(reduce(values, seg, n), back)
    combined = per_index(vt, _SEGMENT[combine])
    hit = tf.math.unsorted_segment_sum(tf.ones_like(seg), seg, n) > 0
    hit = tf.broadcast_to(tf.reshape(hit, [1] * axis + [n] + [1] * (x.shape.rank - axis - 1)), x.shape)
    out = _COMBINE[combine](x, combined)
    if combine != "mul" and x.dtype.is_floating:
        extreme = tf.constant(-math.inf if combine == "max" else math.inf, x.dtype)
        count = lambda b: per_index(tf.cast(b, x.dtype), tf.math.unsorted_segment_sum)  # noqa: E731
        out = tf.where(count(tf.not_equal(vt, extreme)) > 0, out, _COMBINE[combine](x, extreme))
        out = tf.where((count(tf.math.is_nan(vt)) > 0) | tf.math.is_nan(x), tf.constant(math.nan, x.dtype), out)
    return tf.where(hit, out, x)


def lu(a):
    """The `lu` primitive (ppc/ir/prims/linalg.py): TF's own tf.linalg.lu has no XLA
    kernel, so the generated code calls this (k steps of a tf.while_loop, each pivoting and eliminating one
    column of every matrix of the batch at once). Same conventions as JAX's: the packed
    factor and the int32 permutation; the first of equal pivots wins (as LAPACK's idamax)."""
    k = a.shape[-1]
    nb = a.shape.rank - 2
    rows = tf.range(k)

    def body(j, a, perm):
        col = tf.gather(a, j, axis=-1)  # [..., k]
        mag = tf.where(rows >= j, tf.abs(col), tf.cast(-1, a.dtype))
        p = tf.argmax(mag, axis=-1, output_type=tf.int32)[..., None]
        src = tf.where(rows == j, p, tf.where(rows == p, j, rows))  # rows j and p swapped
        a = tf.gather(a, src, axis=nb, batch_dims=nb)
        perm = tf.gather(perm, src, axis=nb, batch_dims=nb)
        col = tf.gather(a, j, axis=-1)
        pivot = tf.gather(col, j, axis=-1)[..., None]
        lower = tf.where(rows > j, tf.math.divide_no_nan(col, pivot), tf.zeros_like(col))
        row = tf.where(rows > j, tf.gather(a, j, axis=-2), tf.zeros_like(col))
        a = a - lower[..., :, None] * row[..., None, :]
        a = tf.where((rows[:, None] > j) & (rows[None, :] == j), lower[..., :, None], a)
        return j + 1, a, perm

    perm = tf.broadcast_to(rows, a.shape[:-1])
    _, a, perm = tf.while_loop(lambda j, *_: j < k, body, (tf.constant(0, tf.int32), a, perm))
    return a, perm


_SORT_BITS = {tf.float16: (tf.int16, 0x7FFF), tf.float32: (tf.int32, 0x7FFFFFFF),
              tf.float64: (tf.int64, 0x7FFFFFFFFFFFFFFF)}


def sort(x, axis):
    """The `sort` primitive (ppc/ir/prims/sorting.py): (values, int64 permutation) along
    `axis`, stable, NaN last and -0.0 equal to 0.0. Floats sort by an integer key: -0.0
    made 0.0 and every NaN the positive one, bitcast, the negative ones' magnitude bits
    flipped, so that integer order is NumPy's float order."""
    rank = x.shape.rank
    swap = list(range(rank))
    swap[axis], swap[-1] = swap[-1], swap[axis]  # (its own inverse)
    xs = x if axis == rank - 1 else tf.transpose(x, swap)
    key = xs
    if xs.dtype in _SORT_BITS:
        bits, mask = _SORT_BITS[xs.dtype]
        canon = tf.where(tf.math.is_nan(xs), tf.constant(math.nan, xs.dtype),
                         tf.where(tf.equal(xs, 0), tf.zeros_like(xs), xs))
        b = tf.bitcast(canon, bits)
        key = tf.where(b < 0, tf.bitwise.bitwise_xor(b, tf.constant(mask, bits)), b)
    perm = tf.cast(tf.argsort(key, axis=-1, stable=True), tf.int64)
    values = tf.gather(xs, perm, axis=-1, batch_dims=rank - 1)
    if axis != rank - 1:
        values, perm = tf.transpose(values, swap), tf.transpose(perm, swap)
    return values, perm



# eigh and svd (ppc/ir/prims/linalg.py). XLA's kernels behind tf.linalg.eigh and
# tf.linalg.svd (Jacobi sweeps) stop with float64 vectors good to only about 1e-7, so float64
# results get two steps of Ogita and Aishima's refinement (matrix products only, each one
# squaring the error: "Iterative refinement for symmetric eigenvalue decomposition",
# JJIAM 2018, and its SVD counterpart, 2020), which bring them to NumPy's precision. Pairs
# of eigenvalues (squared singular values) closer than the current error are left as a
# cluster: only their orthogonality is refined there.

def _mt(x):
    return tf.linalg.matrix_transpose(x)


def _frobenius(m):
    return tf.sqrt(tf.reduce_sum(m * m, axis=(-2, -1)))[..., None, None]


def _refine_eigh(a, x):
    """One step for symmetric a ~ X diag(w) X^T: (w, X + X E)."""
    r = tf.eye(a.shape[-1], dtype=a.dtype) - _mt(x) @ x
    s = _mt(x) @ a @ x
    lam = tf.linalg.diag_part(s) / (1 - tf.linalg.diag_part(r))
    delta = 2 * (_frobenius(s - tf.linalg.diag(lam)) + _frobenius(a) * _frobenius(r))
    gap = lam[..., None, :] - lam[..., :, None]  # [i, j]: lam[j] - lam[i]
    near = tf.abs(gap) <= delta
    e = tf.where(near, r / 2, (s + r * lam[..., None, :]) / tf.where(near, tf.ones_like(gap), gap))
    return lam, x + x @ e


def eigh(a):
    """The `eigh` primitive: (w ascending, V) from the lower triangle of a."""
    w, x = tf.linalg.eigh(a)
    if a.dtype != tf.float64:
        return w, x
    low = tf.linalg.band_part(a, -1, 0)
    sym = low + _mt(low - tf.linalg.band_part(a, 0, 0))
    for _ in range(2):
        w, x = _refine_eigh(sym, x)
    return w, x


def _refine_svd(a, u, v):
    """One step for square a ~ U diag(s) V^T: (s, U + U F, V + V G), F and G solving the
    first-order conditions U'^T U' = V'^T V' = I and U'^T a V' diagonal."""
    eye = tf.eye(a.shape[-1], dtype=a.dtype)
    r, q = eye - _mt(u) @ u, eye - _mt(v) @ v
    t = _mt(u) @ a @ v
    sig = tf.linalg.diag_part(t) / (1 - (tf.linalg.diag_part(r) + tf.linalg.diag_part(q)) / 2)
    sj, si = sig[..., None, :], sig[..., :, None]
    alpha, beta = t + r * sj, _mt(t) + q * sj
    gap = sj * sj - si * si
    delta = 2 * (_frobenius(t - tf.linalg.diag(sig)) + _frobenius(a) * (_frobenius(r) + _frobenius(q)))
    near = tf.abs(gap) <= delta * (tf.abs(sj) + tf.abs(si))
    safe = tf.where(near, tf.ones_like(gap), gap)
    f = tf.where(near, r / 2, (alpha * sj + beta * si) / safe)
    g = tf.where(near, q / 2, (alpha * si + beta * sj) / safe)
    return sig, u + u @ f, v + v @ g


def _svd_square(a):
    s, u, v = tf.linalg.svd(a, full_matrices=False)
    for _ in range(2):
        s, u, v = _refine_svd(a, u, v)
    return s, u, v


def svd(a, full_matrices):
    """The `svd` primitive: (u, s, vt) as JAX and NumPy give them (tf.linalg.svd returns
    (s, u, v), V itself). Float64 goes through a square SVD, refined: a's own when square,
    else that of R in a = Q R (of a^T when a is wide)."""
    if a.dtype != tf.float64:
        s, u, v = tf.linalg.svd(a, full_matrices=full_matrices, compute_uv=True)
        return u, s, _mt(v)
    m, n = a.shape[-2], a.shape[-1]
    if m < n:
        vt, s, ut = svd(_mt(a), full_matrices)
        return _mt(ut), s, _mt(vt)
    if m == n:
        s, u, v = _svd_square(a)
        return u, s, _mt(v)
    q, r = tf.linalg.qr(a, full_matrices=full_matrices)
    s, ur, v = _svd_square(r[..., :n, :])
    u = q[..., :, :n] @ ur
    if full_matrices:
        u = tf.concat([u, q[..., :, n:]], axis=-1)
    return u, s, _mt(v)
