"""What ``generated/`` must hold: every output rendered from the bundled specs.

``python -m symgrad.outputs`` rewrites generated/; the test suite re-renders
and diffs against it, so a change to the engine or a template that changes
any output fails until generated/ is regenerated and committed.
"""

from __future__ import annotations

import sys
from pathlib import Path


def numpy_modules(derivations) -> dict[str, str]:
    from .emit.numpy_module import render_module
    return {f"numpy/{name}.py": render_module(d) for name, d in derivations.items()}


def latex_fragments(derivations) -> dict[str, str]:
    from .emit.latex_doc import render_fragment
    return {f"latex/{name}.tex": render_fragment(d) for name, d in derivations.items()}


def course_profiles(derivations) -> dict[str, str]:
    """Every profile rendered from its own default (bundled) spec."""
    from .profiles import names, render_all
    return {f"api/{filename}": text for name in names() for filename, text in render_all(name).items()}


def latex_documents(derivations) -> dict[str, str]:
    """Standalone write-ups (they include the graph, drawn beside them by ``symgrad latex -o``)
    and the DOT text of each computation graph."""
    from .emit.latex_doc import render_latex
    from .figures import graph_dot
    out = {}
    for name, d in derivations.items():
        out[f"latex/documents/{name}.tex"] = render_latex(d, standalone=True, graph_file=f"{name}-graph.pdf")
        out[f"graphs/{name}.dot"] = graph_dot(d)
    return out


#: Each producer maps {bundled name: Derivation} to {relative path: text}.
PRODUCERS = [
    numpy_modules,
    latex_fragments,
    course_profiles,
    latex_documents,
]


def expected_files() -> dict[str, str]:
    """Relative path -> text, for everything generated/ holds."""
    from .derive import derive
    from .spec import bundled_names

    derivations = {name: derive(name) for name in bundled_names()}
    files: dict[str, str] = {}
    for produce in PRODUCERS:
        files.update(produce(derivations))
    return files


def main(argv=None) -> int:
    from .io import write_atomic
    root = Path(argv[0] if argv else "generated")
    files = expected_files()
    for rel, text in sorted(files.items()):
        write_atomic(root / rel, text, root=root)
    print(f"wrote {len(files)} files into {root}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
