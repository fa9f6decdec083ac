"""generated/ holds exactly what the engine renders today."""

from pathlib import Path

import pytest

from symgrad.outputs import expected_files

ROOT = Path(__file__).resolve().parent.parent / "generated"
FILES = expected_files()


@pytest.mark.parametrize("rel", sorted(FILES))
def test_generated_file_is_up_to_date(rel):
    path = ROOT / rel
    assert path.exists(), f"{rel} missing: run python -m symgrad.outputs"
    assert path.read_text() == FILES[rel], f"{rel} is stale: run python -m symgrad.outputs"


def test_no_orphans_in_generated():
    present = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()}
    assert present == set(FILES)


def test_rendering_is_deterministic():
    assert expected_files() == FILES
