"""Verify other people's derivations and code against a derivation.

Pipeline: an answer (spec-language EXPR, LaTeX, or a Python file) is lowered
to the IR (:mod:`.answer`, :mod:`.latex`) or run in a sandbox
(:mod:`.sandbox`, :mod:`.code`); it is compared with the true adjoint; a wrong
answer is matched against variants of the true derivation that embody common
mistakes (:mod:`.mistakes`). :mod:`.grade` runs a folder of submissions.
"""

