"""Compiling a document symgrad wrote: the one way pdflatex is run.

Always with shell escape off (``-no-shell-escape``: no ``\\write18``, whatever
a site's texmf.cnf says) and kpathsea's paranoid file access
(``openin_any=p``, ``openout_any=p``: no reading or writing outside the
document's folder tree, no dot files, no absolute paths), in batch mode with
a time limit. Display names are checked at spec load and free text is
escaped (symgrad/escape.py); this is the layer under those.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import SymgradError

PDFLATEX_FLAGS = ("-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error")


def pdflatex_command(tex_file: str) -> list[str]:
    exe = shutil.which("pdflatex")
    if exe is None:
        raise SymgradError("pdflatex is not installed (Debian: apt-get install texlive-latex-base)")
    return [exe, *PDFLATEX_FLAGS, tex_file]


def compile_pdf(tex_path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run pdflatex on ``tex_path`` in its folder; returns the finished process
    (its returncode says whether a PDF was made; the .log lies beside it)."""
    tex_path = Path(tex_path)
    env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f"}
    try:
        return subprocess.run(pdflatex_command(tex_path.name), cwd=tex_path.parent, env=env,
                              capture_output=True, text=True, errors="replace", timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SymgradError(f"{tex_path.name}: pdflatex ran longer than {timeout:g} s; stopped") from None
