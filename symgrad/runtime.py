"""Numeric implementations of element-wise functions.

These functions serve twice: symgrad evaluates with them, and the numpy code
generator copies the source of the ones a module uses into that module (the
generated code imports nothing from symgrad). So each function here is
self-contained: it may use ``np`` and the functions of this module only, and
keeps the dtype of its input (python-float constants, no float64 numpy scalars).
"""

import numpy as np


def relu(x):
    return np.maximum(x, 0)


def step(x):
    # 1 where x > 0, else 0: the derivative of ReLU, with ReLU'(0) = 0
    return np.greater(x, 0).astype(np.result_type(x, np.float16))


def leaky_relu(x, slope):
    return np.where(x > 0, x, x * slope)


def sigmoid(x):
    # exp of a non-positive number only, so no overflow for large |x|
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x):
    return np.logaddexp(0, x)


def erf(x):
    # Series for |x| < 3, continued fraction of erfc beyond: about 1e-15 relative
    x = np.asarray(x)
    a = np.abs(x)
    small = np.minimum(a, 3.0)
    term = small * 1.0
    total = term * 1.0
    for n in range(1, 90):
        term = term * (2 * small * small) / (2 * n + 1)
        total = total + term
    series = 1.1283791670955126 * np.exp(-small * small) * total
    big = np.maximum(a, 3.0)
    frac = big * 1.0
    for k in range(60, 0, -1):
        frac = big + (k / 2) / frac
    tail = 1 - np.exp(-big * big) / frac * 0.5641895835477563
    return np.sign(x) * np.where(a < 3.0, series, tail)


def gelu(x):
    return 0.5 * x * (1 + erf(x * 0.7071067811865476))


def softmax(x, axis=-1):
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    rest = np.exp(z)
    # the largest term is exactly 1: sum the others and take log1p, so log(1 + 1e-22)
    # keeps its digits (1 - softmax = -expm1(log_softmax) then stays exact)
    np.put_along_axis(rest, np.expand_dims(np.argmax(z, axis=axis), axis), 0, axis=axis)
    return z - np.log1p(np.sum(rest, axis=axis, keepdims=True))


def one_hot(y, classes, dtype):
    # row k of the identity for each label k: shape (len(y), classes)
    return np.eye(classes, dtype=dtype)[np.reshape(y, -1)]


def pick(z, y):
    # z[i, y[i]] for every row i
    return z[np.arange(z.shape[0]), np.reshape(y, -1)]


def scatter_rows(g, ix, size):
    # the adjoint of c[ix]: each row of g added into row ix of a zero table (repeated indices add up)
    out = np.zeros((size,) + g.shape[np.ndim(ix):], dtype=g.dtype)
    np.add.at(out, ix, g)
    return out


def elu(x, alpha):
    # x for x > 0, alpha (e^x - 1) otherwise; exp of non-positive numbers only
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def first_extremum(x, axis, lowest):
    # 1 at the first maximum (minimum when lowest) along axis (None: of all entries), 0 elsewhere
    flat = np.reshape(x, -1) if axis is None else x
    ax = 0 if axis is None else axis
    index = np.expand_dims((np.argmin if lowest else np.argmax)(flat, axis=ax), ax)
    out = np.zeros(np.shape(flat), dtype=np.result_type(x, np.float16))
    np.put_along_axis(out, index, 1, axis=ax)
    return np.reshape(out, np.shape(x))
