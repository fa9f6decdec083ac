"""The "Fused forms" section: each adjoint a spec's ``[fused]`` table asks for, in one
formula (:mod:`symgrad.fused_view`), and its textbook closed form where there is one."""

from __future__ import annotations

from ..spec import LOSS
from .latex_base import Block, Context, math


def fused_section(c: Context):
    """None when the spec asks for no fused view (the section is left out)."""
    if not c.d.spec.fused:
        return None
    from ..fused_view import fused_views
    blocks = []
    for view in fused_views(c.d):
        t = view.target
        start = "the loss" if view.start == LOSS else math(c.adj(view.start))
        blocks.append(Block("text", text=(
            f"{math(c.adj(t))} in one formula from {start}: every adjoint between them substituted into "
            f"the step of {math(c.name(t))}, so it is the chain rule's steps above composed.")))
        rows = [(c.adj(t), c.tex(view.expr))]
        if view.closed is not None:
            rows.append(("", c.tex(view.closed)))
        blocks.append(Block("align", rows=rows))
        if view.closed is not None:
            blocks.append(Block("text", text=(
                "The second line is the textbook closed form (the softmax and the negative log-likelihood of "
                "the labels combined); the two agree entry by entry at random points of two sets of sizes, "
                "which also fixes the constant in front.")))
    return blocks
