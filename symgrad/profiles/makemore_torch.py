"""Torch forms of the runtime helpers the makemore_backprop profile's code calls.

Like :mod:`symgrad.runtime` for numpy modules: the profile copies the source of
each one its code uses into the module it writes (which imports nothing from
symgrad), so each is self-contained over ``torch`` and keeps its input's dtype.
"""

try:
    import torch
except ImportError:  # writing a module needs only these functions' source; running them needs torch
    torch = None


def first_extremum(x, axis, lowest):
    # 1 at the first maximum (minimum when lowest) along axis (None: of all entries), 0 elsewhere
    flat = x.reshape(-1) if axis is None else x
    dim = 0 if axis is None else axis
    index = (flat.argmin if lowest else flat.argmax)(dim=dim, keepdim=True)
    return torch.zeros_like(flat).scatter_(dim, index, 1.0).reshape(x.shape)


def one_hot(y, classes, dtype):
    # row y_i of the identity for each label
    return torch.nn.functional.one_hot(y.reshape(-1).long(), classes).to(dtype)


def scatter_rows(g, ix, size):
    # the adjoint of rows(C, ix): row k gets the sum of the rows of g whose index is k
    out = torch.zeros((size, g.shape[-1]), dtype=g.dtype)
    return out.index_add_(0, ix.reshape(-1).long(), g.reshape(-1, g.shape[-1]))
