"""Course ``makemore_backprop``: the "backprop ninja" exercise of makemore part 4.

The exercise runs a fixed character-level net forward with every intermediate
tensor named (emb, embcat, hprebn, bnmeani, ..., probs, logprobs) and asks for
each of their adjoints as a torch float32 tensor (dlogprobs ... dC), compared
with autograd; then for two fused forms, dlogits in one formula and the
batch-norm backward (dhprebn from dhpreact) in one formula.

The interface (templates/api/makemore_backprop.py.j2):

* ``backward(params, cache, Xb, Yb)``: params holds C, W1, b1, bngain, bnbias,
  W2, b2; cache the forward tensors by the exercise's names (extra keys are
  ignored, so a notebook may pass ``globals()``); Xb (B, 3) and Yb (B,) are
  integer tensors. Returns a dict of the 26 adjoints by the exercise's names,
  in the parameters' dtype.
* ``dlogits_fused(logits, Yb)`` and ``dhprebn_fused(dhpreact, bngain, bndiff,
  bnvar, bnvar_inv)``: one formula each, from the spec's ``[fused]`` table.

Rendering: :mod:`.makemore_render`; grading: :mod:`.makemore_plan`.
"""

from __future__ import annotations

from . import Course
from .makemore_plan import plan
from .makemore_render import SPEC, context

COURSE = Course("makemore_backprop",
                "makemore part 4 (backprop ninja): every intermediate adjoint as torch float32, "
                "and the fused dlogits and batch-norm backward",
                "makemore_backprop.py", "api/makemore_backprop.py.j2", context, default_spec=SPEC,
                plan=plan, packages=("numpy", "torch"))
