"""Each course's test plan, built in the course's own module from what its renderer decided."""

import pytest

from symgrad.profiles import get, names, render
from symgrad.verify.code import check_file, make_plan
from symgrad.verify.env import load_derivation

SPECS = {"pset3": "pset3", "mlp": "hw1_relu_sigmoid_bce", "nodes": "ridge_regression"}
SPECS["makemore_backprop"] = "makemore"
SPECS["cmu_hw1p1"] = "cmu_linear"
SPECS["uva_dl1"] = "uva_mlp"
SPECS.update({"cs231n": "cs231n_affine", "cs224n_word2vec": "word2vec_negsample"})


@pytest.mark.parametrize("course", names())
def test_plan_is_consistent(course):
    plan = make_plan(load_derivation(SPECS[course]), course, points=2)
    ids = [c["id"] for c in plan.calls]
    assert len(ids) == len(set(ids))
    assert {case.cid for case in plan.cases} <= set(ids)
    assert {case.function for case in plan.cases} == set(plan.functions)
    assert plan.packages == get(course).packages
    assert plan.torch == ("torch" in get(course).packages)


@pytest.mark.parametrize("spec", ["titanic", "linear_regression"])
def test_pset3_grades_its_own_functions_for_another_spec(tmp_path, spec):
    # The loss's arguments come from the renderer (titanic's loss reads "yhat",
    # not the problem set's "y_predicted"); the plan calls loss with the same ones.
    filename, text = render("pset3", spec)
    path = tmp_path / filename
    path.write_text(text)
    report = check_file(spec, path, "pset3", points=3)
    assert {f.name: f.status for f in report.functions if f.status != "correct"} == {}
    assert "loss" in [f.name for f in report.functions]


def test_a_course_without_a_plan_cannot_check_code():
    from dataclasses import replace

    from symgrad.errors import SymgradError
    course = replace(get("nodes"), name="render_only", plan=None)
    with pytest.raises(SymgradError, match=f"'render_only' cannot check code; these can: {', '.join(names())}$"):
        course.make_plan(load_derivation("pset3"), 1, 0)
