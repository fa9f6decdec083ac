"""The wheel ships every package: pyproject lists packages by hand (templates/ is
mapped in from the top of the checkout), so a new sub-package that is not listed
works from a checkout and fails after `pip install .` (the Gradescope autograder
found emit/step missing that way)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_under_symgrad_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symgrad").rglob("__init__.py")}
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
