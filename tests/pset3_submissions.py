"""Submissions to the pset3 interface, written for the tests (none copied from a seed).

``CORRECT`` is a right solution as a dict of function sources; a submission is
that dict with some functions replaced. ``SUBMISSIONS`` maps a file name to
(source, expectations), expectations being function -> verdict or
(verdict, mistake the diagnosis must name).
"""

CORRECT = {
    "imports": "import numpy as np\n",
    "relu": "def relu(x):\n    return np.maximum(x, 0)\n",
    "loss": "def loss(y_predicted, y_observed):\n    return (y_predicted - y_observed) ** 2\n",
    "mlp": ("def mlp(x, W0, W1, W2):\n    r0 = W0 * x\n    h0 = relu(r0)\n    r1 = W1 @ h0\n    h1 = relu(r1)\n"
            "    return {'x': x, 'r0': r0, 'h0': h0, 'r1': r1, 'h1': h1, 'y_predicted': W2 @ h1}\n"),
    "d_loss_d_ypredicted": "def d_loss_d_ypredicted(variable_dict, y_observed):\n"
                           "    return 2 * (variable_dict['y_predicted'] - y_observed)\n",
    "d_loss_d_W2": "def d_loss_d_W2(variable_dict, y_observed):\n"
                   "    return d_loss_d_ypredicted(variable_dict, y_observed) * variable_dict['h1']\n",
    "d_loss_d_h1": "def d_loss_d_h1(variable_dict, W2, y_observed):\n"
                   "    return d_loss_d_ypredicted(variable_dict, y_observed) * W2\n",
    "relu_derivative": "def relu_derivative(x):\n    return np.where(np.asarray(x) > 0, 1.0, 0.0)\n",
    "d_loss_d_r1": "def d_loss_d_r1(variable_dict, W2, y_observed):\n"
                   "    return d_loss_d_h1(variable_dict, W2, y_observed) * relu_derivative(variable_dict['r1'])\n",
    "d_loss_d_W1": "def d_loss_d_W1(variable_dict, W2, y_observed):\n"
                   "    return np.outer(d_loss_d_r1(variable_dict, W2, y_observed), variable_dict['h0'])\n",
    "d_loss_d_h0": "def d_loss_d_h0(variable_dict, W1, W2, y_observed):\n"
                   "    return W1.T @ d_loss_d_r1(variable_dict, W2, y_observed)\n",
    "d_loss_d_r0": "def d_loss_d_r0(variable_dict, W1, W2, y_observed):\n"
                   "    return d_loss_d_h0(variable_dict, W1, W2, y_observed) * relu_derivative(variable_dict['r0'])\n",
    "d_loss_d_W0": "def d_loss_d_W0(variable_dict, W1, W2, y_observed):\n"
                   "    return d_loss_d_r0(variable_dict, W1, W2, y_observed) * variable_dict['x']\n",
}
FUNCTIONS = [k for k in CORRECT if k != "imports"]
DOWNSTREAM = {  # functions that call the key (directly or not) in CORRECT
    "d_loss_d_ypredicted": ["d_loss_d_W2", "d_loss_d_h1", "d_loss_d_r1", "d_loss_d_W1", "d_loss_d_h0",
                            "d_loss_d_r0", "d_loss_d_W0"],
    "d_loss_d_r1": ["d_loss_d_W1", "d_loss_d_h0", "d_loss_d_r0", "d_loss_d_W0"],
    "d_loss_d_h0": ["d_loss_d_r0", "d_loss_d_W0"],
    "relu_derivative": ["d_loss_d_r1", "d_loss_d_W1", "d_loss_d_h0", "d_loss_d_r0", "d_loss_d_W0"],
    "relu": ["mlp"],
}


def build(**replace) -> str:
    parts = dict(CORRECT)
    for k, v in replace.items():
        if v is None:
            parts.pop(k)
        else:
            parts[k] = v
    return "\n".join(parts.values())


def expect(**verdicts):
    out = {f: "correct" for f in FUNCTIONS}
    out.update(verdicts)
    return out


def wrong_with_downstream(name, mistake):
    out = {name: ("wrong", mistake)}
    for f in DOWNSTREAM.get(name, []):
        out[f] = "wrong"
    return out


LOOPS = {
    "d_loss_d_W1": "def d_loss_d_W1(variable_dict, W2, y_observed):\n    g = d_loss_d_r1(variable_dict, W2, y_observed)\n"
                   "    h0 = variable_dict['h0']\n    out = np.zeros((3, 3))\n    for i in range(3):\n"
                   "        for j in range(3):\n            out[i, j] = g[i] * h0[j]\n    return out\n",
    "d_loss_d_h0": "def d_loss_d_h0(variable_dict, W1, W2, y_observed):\n"
                   "    return np.einsum('ij,i->j', W1, d_loss_d_r1(variable_dict, W2, y_observed))\n",
    "relu_derivative": "def relu_derivative(x):\n    return 1.0 if x > 0 else 0.0\n"
                       if False else "def relu_derivative(x):\n    return (np.asarray(x) > 0).astype(float)\n",
}

SENTINEL = "SENTINEL_PATH"   # replaced by the test with a path the grader owns

SUBMISSIONS = {
    "correct_vectorized.py": (build(), expect()),
    "correct_loops.py": (build(**LOOPS), expect()),
    "correct_column_w2.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n"
                                   "    return (d_loss_d_ypredicted(variable_dict, y_observed) * "
                                   "variable_dict['h1']).reshape(3, 1)\n"), expect()),
    "missing_factor_2.py": (build(d_loss_d_ypredicted="def d_loss_d_ypredicted(variable_dict, y_observed):\n"
                                  "    return variable_dict['y_predicted'] - y_observed\n"),
                            expect(**wrong_with_downstream("d_loss_d_ypredicted", "missing_factor_2"))),
    "sign_error.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n"
                            "    return -d_loss_d_ypredicted(variable_dict, y_observed) * variable_dict['h1']\n"),
                      expect(d_loss_d_W2=("wrong", "sign_error"))),
    "missing_transpose.py": (build(d_loss_d_h0="def d_loss_d_h0(variable_dict, W1, W2, y_observed):\n"
                                   "    return W1 @ d_loss_d_r1(variable_dict, W2, y_observed)\n"),
                             expect(**wrong_with_downstream("d_loss_d_h0", "missing_transpose"))),
    "layout_transposed.py": (build(d_loss_d_W1="def d_loss_d_W1(variable_dict, W2, y_observed):\n"
                                   "    return np.outer(variable_dict['h0'], d_loss_d_r1(variable_dict, W2, y_observed))\n"),
                             expect(d_loss_d_W1=("wrong", "layout_transposed"))),
    "sigma_for_sigma_prime.py": (build(d_loss_d_r1="def d_loss_d_r1(variable_dict, W2, y_observed):\n"
                                       "    return d_loss_d_h1(variable_dict, W2, y_observed) * relu(variable_dict['r1'])\n"),
                                 expect(**wrong_with_downstream("d_loss_d_r1", "sigma_for_sigma_prime"))),
    "kink_convention.py": (build(relu_derivative="def relu_derivative(x):\n"
                                 "    return np.where(np.asarray(x) >= 0, 1.0, 0.0)\n"),
                           expect(relu_derivative=("wrong", "kink_convention"),
                                  **{f: ("wrong", "kink_convention") for f in DOWNSTREAM["relu_derivative"]})),
    "at_output_kink_one.py": (build(relu_derivative="def relu_derivative(x):\n"
                                    "    return np.where(np.asarray(x) >= 0, 1.0, 0.0)\n",
                                    d_loss_d_r1="def d_loss_d_r1(variable_dict, W2, y_observed):\n"
                                    "    return d_loss_d_h1(variable_dict, W2, y_observed) * "
                                    "relu_derivative(variable_dict['h1'])\n"),
                              expect(relu_derivative=("wrong", "kink_convention"),
                                     d_loss_d_r1=("wrong", "derivative_at_output"), d_loss_d_W1="wrong",
                                     d_loss_d_h0="wrong", d_loss_d_r0="wrong", d_loss_d_W0="wrong")),
    "hadamard.py": (build(d_loss_d_h0="def d_loss_d_h0(variable_dict, W1, W2, y_observed):\n"
                          "    return W1.T * d_loss_d_r1(variable_dict, W2, y_observed)\n"),
                    expect(d_loss_d_h0="wrong", d_loss_d_r0="wrong", d_loss_d_W0="wrong")),
    "wrong_forward.py": (build(mlp=CORRECT["mlp"].replace("W1 @ h0", "W1.T @ h0")), expect(mlp="wrong")),
    "wrong_loss.py": (build(loss="def loss(y_predicted, y_observed):\n    return abs(y_predicted - y_observed)\n"),
                      expect(loss="wrong")),
    "raises.py": (build(d_loss_d_W1="def d_loss_d_W1(variable_dict, W2, y_observed):\n"
                        "    raise RuntimeError('not done yet')\n"), expect(d_loss_d_W1="crashed")),
    "missing_two.py": (build(d_loss_d_W0=None, d_loss_d_r0=None), expect(d_loss_d_W0="missing", d_loss_d_r0="missing")),
    "empty.py": ("", {f: "missing" for f in FUNCTIONS}),
    "syntax_error.py": ("def relu(x):\n    return (\n", {f: "crashed" for f in FUNCTIONS}),
    "hang_cpu.py": (build(d_loss_d_h1="def d_loss_d_h1(variable_dict, W2, y_observed):\n    while True:\n"
                          "        pass\n"), expect(d_loss_d_h1="crashed", d_loss_d_r1="crashed", d_loss_d_W1="crashed",
                                               d_loss_d_h0="crashed", d_loss_d_r0="crashed", d_loss_d_W0="crashed")),
    "hang_sleep.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import time\n"
                            "    time.sleep(1000)\n"), expect(d_loss_d_W2="crashed")),
    "memory_hog.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n"
                            "    return np.ones((100000, 100000))[:3, 0]\n"), expect(d_loss_d_W2="crashed")),
    "memory_list.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    x = []\n    while True:\n"
                             "        x.append(bytearray(10**7))\n"), expect(d_loss_d_W2="crashed")),
    "fork_bomb.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import os\n    while True:\n"
                           "        try:\n            os.fork()\n        except OSError:\n            pass\n"),
                     expect(d_loss_d_W2="crashed")),
    "sys_exit_import.py": ("import sys\nsys.exit(0)\n" + build(), {f: "crashed" for f in FUNCTIONS}),
    "sys_exit_call.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import sys\n"
                               "    sys.exit(0)\n"), expect(d_loss_d_W2="crashed")),
    "os_exit.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import os\n    os._exit(0)\n"),
                   expect(d_loss_d_W2="crashed")),
    "os_system.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import os\n"
                           "    os.system('touch SENTINEL_PATH.system')\n"
                           "    return d_loss_d_ypredicted(variable_dict, y_observed) * variable_dict['h1']\n"),
                     expect()),
    "writes_files.py": ("open('SENTINEL_PATH.write', 'w').write('x')\n" + build(), {f: "crashed" for f in FUNCTIONS}),
    "writes_cwd.py": ("open('scratch.txt', 'w').write('x' * 100)\n" + build(), expect()),
    "huge_file.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n"
                           "    open('big.bin', 'wb').write(b'0' * (200 << 20))\n"), expect(d_loss_d_W2="crashed")),
    "patch_numpy.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n"
                             "    np.allclose = lambda *a, **k: True\n    np.array_equal = lambda *a, **k: True\n"
                             "    np.isclose = lambda *a, **k: True\n    return np.zeros(3)\n"),
                       expect(d_loss_d_W2="wrong")),
    "patch_save.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n"
                            "    np.save = lambda f, a, **k: None\n    return np.zeros(3)\n"),
                      expect(d_loss_d_W2="wrong")),
    "import_missing.py": ("import torch_that_is_not_installed\n" + build(), {f: "crashed" for f in FUNCTIONS}),
    "always_equal.py": (build(d_loss_d_W2="class Yes:\n    def __eq__(self, other):\n        return True\n"
                              "    def __array__(self, *a, **k):\n        raise TypeError('no')\n\n"
                              "def d_loss_d_W2(variable_dict, y_observed):\n    return Yes()\n"),
                        expect(d_loss_d_W2="crashed")),
    "returns_string.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    return 'correct'\n"),
                          expect(d_loss_d_W2="crashed")),
    "network.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import socket\n"
                         "    socket.create_connection(('1.1.1.1', 80), timeout=1)\n"
                         "    return d_loss_d_ypredicted(variable_dict, y_observed) * variable_dict['h1']\n"),
                   expect(d_loss_d_W2="crashed")),
    "orphan.py": (build(d_loss_d_W2="def d_loss_d_W2(variable_dict, y_observed):\n    import os, time\n"
                        "    if os.fork() == 0:\n        os.setsid()\n        time.sleep(3)\n"
                        "        open('/tmp/SENTINEL_NAME.orphan', 'w').write('alive')\n        os._exit(0)\n"
                        "    return d_loss_d_ypredicted(variable_dict, y_observed) * variable_dict['h1']\n"),
                  expect()),
}
