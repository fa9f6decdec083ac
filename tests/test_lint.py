"""The linter runs with the tests, so `python -m pytest` (the README's and CI's
command) fails on a lint error: ruff over symgrad/, tests/, benchmarks/ and
every generated file, with the rules chosen in pyproject.toml."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["symgrad", "tests", "benchmarks", "generated"]


def _ruff() -> list[str] | None:
    try:
        import ruff  # noqa: F401  (the pip package ships the binary)
    except ImportError:
        return [shutil.which("ruff")] if shutil.which("ruff") else None
    return [sys.executable, "-m", "ruff"]


def test_ruff_is_clean_on_the_code_the_tests_and_every_generated_file():
    command = _ruff()
    if command is None:
        if os.environ.get("SYMGRAD_REQUIRE_TOOLS"):
            pytest.fail("ruff is not installed (pip install '.[test]')")
        pytest.skip("ruff is not installed (pip install '.[test]')")
    done = subprocess.run([*command, "check", "--no-cache", "--output-format", "concise", *LINTED],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_can_fail(tmp_path):
    """The configuration is read and finds a real error (an unused import, and two
    functions glued together as a template once glued them)."""
    command = _ruff()
    if command is None:
        pytest.skip("ruff is not installed")
    bad = tmp_path / "glued.py"
    bad.write_text("import math\n\n\ndef f():\n    return 1\ndef g():\n    return 2\n")
    done = subprocess.run([*command, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                           "--output-format", "json", str(bad)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert sorted(v["code"] for v in json.loads(done.stdout)) == ["E302", "F401"]
