"""float32 in, float32 out: no float64 array anywhere in forward, backward or the step.

Checks dtypes, not time: every array bound to a name while the generated
functions run is recorded (a line tracer reads each frame's locals), and
every float array must have the input's dtype.
"""

import sys

import numpy as np
import pytest

from test_perf_step import BODIES, SPEC_IDS, module_and_data


def arrays_seen(fn, *args):
    """Every ndarray a local variable of the generated module's functions held during fn(*args)."""
    seen = []
    module_file = fn.__code__.co_filename

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != module_file:
            return None
        if event in ("line", "return"):
            for name, value in frame.f_locals.items():
                if isinstance(value, np.ndarray) or isinstance(value, np.generic):
                    seen.append((frame.f_code.co_name, name, value.dtype))
                elif isinstance(value, (tuple, list)):
                    seen.extend((frame.f_code.co_name, f"{name}[{i}]", v.dtype)
                                for i, v in enumerate(value) if isinstance(v, np.ndarray))
        return tracer

    sys.settrace(tracer)
    try:
        result = fn(*args)
    finally:
        sys.settrace(None)
    return result, seen


def _float64(seen):
    return [(f, n, d) for f, n, d in seen if d.kind == "f" and d != np.float32]


@pytest.mark.parametrize("name", SPEC_IDS)
def test_float32_plain_api_stays_float32(name, tmp_path):
    module, params, inputs = module_and_data(name, tmp_path, dtype=np.float32)
    (loss, grads), seen = arrays_seen(module.loss_and_grads, params, inputs)
    assert seen, "the tracer saw nothing"
    assert not _float64(seen)
    assert all(np.asarray(g).dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("name", SPEC_IDS)
def test_float32_step_stays_float32(name, tmp_path):
    module, params, inputs = module_and_data(name, tmp_path, dtype=np.float32)
    step = module.make_step()
    step(params, inputs)
    (loss, grads), seen = arrays_seen(step, params, inputs)
    assert seen, "the tracer saw nothing"
    assert not _float64(seen)
    assert all(np.asarray(g).dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("name", list(BODIES))
def test_float32_step_matches_float64(name, tmp_path):
    module, params, inputs = module_and_data(name, tmp_path)
    _, grads64 = module.loss_and_grads(params, inputs)

    def to32(d):
        return {k: v.astype(np.float32) for k, v in d.items()}
    _, grads32 = module.make_step()(to32(params), to32(inputs))
    for p in grads64:
        np.testing.assert_allclose(grads32[p], grads64[p], rtol=2e-4, atol=2e-5, err_msg=p)
