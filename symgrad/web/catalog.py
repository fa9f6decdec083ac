"""The specs a server offers, and what the page shows of one: its network and its questions.

Specs are the bundled ones or the ``*.toml`` files directly in an instructor's
folder, listed once when the server starts; a request names one of them and is
looked up in that listing, so no request ever makes a path. Derivations are
computed once per spec and kept.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import SymgradError
from ..escape import one_line


class Catalog:
    """Spec name -> where it comes from (a bundled name or a file in the folder)."""

    def __init__(self, folder=None):
        from ..spec import bundled_names
        if folder is None:
            self.sources = {name: name for name in bundled_names()}
        else:
            folder = Path(folder)
            if not folder.is_dir():
                raise SymgradError(f"{folder}: not a folder of specs")
            self.sources = {p.stem: str(p.resolve()) for p in sorted(folder.glob("*.toml"))
                            if p.is_file() and not p.is_symlink()}
            if not self.sources:
                raise SymgradError(f"{folder}: no spec files (*.toml) in this folder")
        self._derivations: dict = {}
        self._described: dict = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self.sources)

    def derivation(self, name: str):
        """The spec's derivation (computed once).

        Raises:
            SymgradError: no spec of that name is offered, or it does not derive.
        """
        if name not in self.sources:
            raise SymgradError(f"no spec named {one_line(name, 60)!r} here")
        with self._lock:
            if name not in self._derivations:
                from ..verify.env import load_derivation
                self._derivations[name] = load_derivation(self.sources[name])
            return self._derivations[name]

    def listing(self) -> list[dict]:
        out = []
        for name in self.sources:
            try:
                out.append({"name": name, "description": self.describe(name)["description"]})
            except SymgradError as exc:
                out.append({"name": name, "description": f"(cannot be used: {exc})", "broken": True})
        return out

    def describe(self, name: str) -> dict:
        """What the page shows: description, the network as equations, one question per gradient."""
        d = self.derivation(name)
        with self._lock:
            if name not in self._described:
                self._described[name] = _describe(d)
            return self._described[name]


def _describe(d) -> dict:
    from ..emit.printers import LatexIRPrinter
    from ..ir import show_shape
    from ..rewrite import substitute
    printer = LatexIRPrinter(dict(d.spec.latex))
    variables = d.graph.variables()

    def shape(name):
        return show_shape(tuple(variables[name].shape))

    network = [{"kind": "input", "name": n, "latex": printer.name_latex(n), "shape": shape(n)} for n in d.graph.inputs]
    network += [{"kind": "param", "name": n, "latex": printer.name_latex(n), "shape": shape(n)} for n in d.graph.params]
    temps = {}   # symgrad's own intermediates (loss_1) are shown inlined, as the spec wrote them
    for node in d.graph.nodes:
        expr = substitute(node.expr, temps)
        if node.temp:
            temps[node.name] = expr
            continue
        lhs = "L" if node.name == "loss" else printer.name_latex(node.name)
        network.append({"kind": "node", "name": node.name, "latex": f"{lhs} = {printer.doprint(expr)}",
                        "shape": shape(node.name) if node.name in variables else ""})
    wanted = list(d.graph.params) + [n for n in d.spec.nodes if n in d.contributions]
    questions = [{"wrt": n, "latex": printer.adjoint(n), "shape": shape(n)} for n in wanted if n in d.contributions]
    return {"name": d.spec.name, "description": d.spec.description or "", "network": network,
            "questions": questions}
