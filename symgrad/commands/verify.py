"""verify and grade: answers, LaTeX and students' code held against a derivation."""

from __future__ import annotations

import argparse
import json
import sys

from ..escape import one_line


def _courses() -> tuple:
    """Every course whose code can be checked, read from the registry when the parser is built."""
    from ..profiles import get, names
    return tuple(name for name in names() if get(name).plan is not None)


def _courses_help() -> str:
    from ..profiles import get
    return "the course interface of --code: " + "; ".join(f"{n} ({get(n).doc})" for n in _courses())


class _Later(str):
    """A help text made only when argparse shows it: the course list imports every course's
    module, which a ``symgrad verify --answer`` does not need (it starts faster)."""

    def __new__(cls, make):
        out = super().__new__(cls, "COURSE")
        out.make = make
        return out

    def __mod__(self, params):
        return self.make() % params

    def strip(self, chars=None):
        return self.make().strip(chars)


def _check_profile(name) -> None:
    from ..errors import SymgradError
    if name not in _courses():
        raise SymgradError(f"--profile {one_line(name, 60)}: not a course whose code can be checked; choose one "
                           f"of {', '.join(_courses())}")


LATEX_HELP = r"""--latex accepts LaTeX as people type it (README, "Answers in LaTeX"):
  $...$ and a trailing \\ are dropped; \frac{\partial L}{\partial W_1} = ... keeps the right side
  names as the spec writes them or as its [latex] display names; fonts do not matter
    (\mathbf{W}, \bm W, \boldsymbol{W}, W); braces optional (\hat{\mathbf p}, \vec r^{\,1})
  \frac \dfrac \tfrac12 \sqrt{v}; W^T W^\top \mathbf{W}^{(2)\top}; A B or A \cdot B (matrix product),
    u v^\top (outer), \odot \circ (element-wise), \otimes (outer)
  two column vectors side by side, \sigma(z)(1-\sigma(z)), are ambiguous: read element-wise (or as
    the outer product when only that has the gradient's shape), and the verdict says so
  \sigma \tanh^2(z) \log \operatorname{ReLU} \sigma'(z); \mathbb{1}[z > 0]; \sum_i x, \mathbf{1}^\top X
  one entry: (W_1)_{0,2} or \left(\mathbf{z}_2\right)_{1} (a name in brackets, integer subscripts)
every verdict begins with "read as: <the answer in the expression language>".
examples:
"""

#: The examples --help shows (tests/test_verify_entries.py checks each is judged correct).
EXAMPLES = [
    ("multiclass", "b2", "--latex", r"$\hat{\mathbf p} - \mathbf y$"),
    ("hw1_relu_identity_mse", "b1", "--latex",
     r"\mathbf{W}^{(2)\top} 2(\hat{\mathbf y}-\mathbf y) \odot \mathbb{1}[\mathbf z_1 > 0]"),
    ("hw1_sigmoid_sigmoid_bce", "b1", "--latex",
     r"\tfrac12 \mathbf{W}^{(2)\top}(\hat{\mathbf y}-\mathbf y) \odot \sigma(\mathbf z_1)(1-\sigma(\mathbf z_1))"),
    ("titanic", "W2", "--latex", r"\frac{2}{n} D^\top (\hat{\mathbf y} - \mathbf y)"),
    ("titanic", "W2", "--answer", "2/n * D.T @ (yhat - y)"),
    ("hw1_relu_identity_mse", "W2[1,2]", "--answer", "2*(yhat[1] - y[1])*z2[2]"),
    ("hw1_relu_identity_mse", "W2[1,2]", "--latex", r"2((\hat{\mathbf y})_{1} - (\mathbf y)_{1})(\mathbf z_2)_{2}"),
]
LATEX_HELP += "".join(f"  symgrad verify {spec} --wrt '{wrt}' {flag} '{text}'\n" if "[" in wrt else
                      f"  symgrad verify {spec} --wrt {wrt} {flag} '{text}'\n" for spec, wrt, flag, text in EXAMPLES)


def add_verify(sub):
    p = sub.add_parser("verify", help="is this formula (or code) for a gradient right? verdict, "
                                      "counterexample and the mistake named",
                       epilog=LATEX_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", metavar="SPEC|NAME", help="a spec file (TOML) or the name of a bundled spec")
    p.add_argument("--wrt", metavar="NAME", help="the parameter or node whose gradient the answer is, or one "
                                                  "entry of it: W1[0,2] (arrays of fixed size)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--answer", metavar="EXPR", help="the answer in the spec expression language")
    group.add_argument("--latex", metavar="TEX", help="the answer in LaTeX")
    group.add_argument("--code", metavar="FILE", help="a Python file written to a course interface")
    p.add_argument("--profile", metavar="COURSE", help=_Later(_courses_help))
    p.add_argument("--format", choices=("text", "json"), default="text")
    _memory_arg(p)
    _strict_arg(p)
    p.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS",
                   help="limit for the symbolic proof (answers) or for the submission's run (code)")
    p.set_defaults(func=cmd_verify)


def _strict_arg(p):
    p.add_argument("--strict", action="store_true",
                   help="also require what the course's tests do not (gradients added with += in mlp): "
                        "without it, such findings are notes")


def _memory_arg(p):
    p.add_argument("--allow-package", action="append", default=[], metavar="NAME",
                   help="an installed distribution the submissions import, loaded once before they run so "
                        "importing it costs them nothing (every installed distribution but symgrad is "
                        "importable anyway); repeatable")
    p.add_argument("--memory", type=int, default=1024, metavar="MB",
                   help="memory a submission may allocate on top of what the harness "
                                                        "(numpy, torch) has mapped (default 1024)")


#: Values with more entries are elided on the terminal (an answer of a million
#: entries printed 22 MB); --format json keeps them whole.
SHOWN_ENTRIES = 1000


def _shown(value):
    """A counterexample's value as printed: whole when small, elided when large."""
    import numpy as np
    a = np.asarray(value, dtype=float)
    if a.size <= SHOWN_ENTRIES:
        return value
    text = np.array2string(a, threshold=20, edgeitems=3, separator=", ")
    return " ".join(text.split()) + f" ({a.size} entries, shape {a.shape})"


def _print_verdict(v, fmt, label=None) -> None:
    if fmt == "json":
        print(json.dumps(v.as_json(), indent=2))
        return
    head = f"{label}: " if label else ""
    if v.read_as and not label:
        print(f"read as: {one_line(v.read_as)}")
    print(f"{head}{v.verdict}" + (f" ({v.method})" if v.method else "") + f": {one_line(v.message)}")
    if v.answer_shape and v.answer_shape != v.expected_shape:
        print(f"  shape: expected {v.expected_shape}, answer {v.answer_shape}")
    if v.counterexample:
        ce = v.counterexample
        print("  counterexample:")
        for k, val in ce["inputs"].items():
            print(f"    {one_line(k)} = {one_line(val)}")
        print(f"    expected {one_line(_shown(ce['expected']))}")
        print(f"    got      {one_line(_shown(ce['got']))}")
    for item in v.diagnosis:
        print(f"  diagnosis [{item['mistake']}]: {one_line(item['message'])}")


def cmd_verify(args) -> int:
    from ..errors import SymgradError
    from ..verify.answer import AnswerError, Verdict, verify_tree
    from ..verify.env import load_derivation
    if args.code:
        from ..verify.code import check_file, print_report
        if not args.profile:
            raise SymgradError(f"--code needs --profile ({' | '.join(_courses())})")
        _check_profile(args.profile)
        report = check_file(args.spec, args.code, args.profile, time_limit=args.time_limit,
                            memory_mb=args.memory, packages=_packages(args), strict=args.strict)
        if args.format == "json":
            print(json.dumps(report.as_json(), indent=2))
        else:
            print_report(report)
        return report.exit_status
    if not args.wrt:
        raise SymgradError("--answer and --latex need --wrt NAME (the parameter or node)")
    d = load_derivation(args.spec)
    warnings = []
    try:
        if args.answer is not None:
            from ..verify.entries import parse_answer
            tree = parse_answer(args.answer)
        else:
            from ..verify.answer import check_wrt, wrt_shape
            from ..verify.latex import read_latex
            check_wrt(d, args.wrt)
            tree, warnings = read_latex(args.latex, d, wrt_shape(d, args.wrt))
        from ..verify.answer import check_wrt
        check_wrt(d, args.wrt)   # (for --answer; --latex checked it before reading)
        v = verify_tree(d, args.wrt, tree, time_limit=args.time_limit)
        if warnings:
            v.message += "; note: " + "; ".join(warnings)
    except AnswerError:
        raise
    except SymgradError as exc:
        if args.format != "json":
            raise exc.located(source="--answer" if args.answer is not None else "--latex") from None
        v = Verdict("unusable", message=f"answer: {exc}")
    _print_verdict(v, args.format)
    return v.exit_status


def add_grade(sub):
    p = sub.add_parser("grade", help="grade a folder of code submissions (one file or folder each)")
    p.add_argument("dir", metavar="DIR", help="the folder of submissions")
    p.add_argument("--spec", metavar="SPEC|NAME", help="default: the course's own spec, where it has one")
    p.add_argument("--profile", required=True, choices=_courses(), help="the course interface")
    p.add_argument("--jobs", type=int, default=4, help="submissions graded in parallel")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS",
                   help="wall-clock limit per submission run")
    p.add_argument("-o", "--output", metavar="DIR", help="where grades.csv and grades.json go (default: DIR)")
    p.add_argument("--regrade", action="store_true", help="grade again submissions already graded")
    p.add_argument("--format", choices=("csv", "json", "gradescope", "otter"), default="csv",
                   help="also write grades.gradescope.json or grades.otter.json (csv and json are always written)")
    p.add_argument("--points", metavar="FILE.toml", help="points per function for --format gradescope|otter")
    _memory_arg(p)
    _strict_arg(p)
    p.set_defaults(func=cmd_grade)


def cmd_grade(args) -> int:
    from ..verify.grade import grade_folder
    from .gradescope import check_format_options, write_converted
    check_format_options(args.format, args.points)   # a bad points file fails before grading, not after
    status = grade_folder(args.dir, _spec_or_default(args), args.profile, jobs=args.jobs, time_limit=args.time_limit,
                          memory_mb=args.memory, output=args.output, regrade=args.regrade, stream=sys.stderr,
                          packages=_packages(args), strict=args.strict)
    if args.format in ("gradescope", "otter"):
        print(f"wrote {one_line(write_converted(args.output or args.dir, args.format, args.points))}")
    return status


def _spec_or_default(args) -> str:
    """--spec, or the course's bundled spec when it has one (makemore_backprop: makemore)."""
    from ..errors import SymgradError
    from ..profiles import get
    spec = args.spec or get(args.profile).default_spec
    if spec is None:
        raise SymgradError(f"grade --profile {args.profile} needs --spec (the course has no spec of its own)")
    return spec


def _packages(args) -> tuple:
    """--allow-package names, each an installed distribution (else exit 2)."""
    from importlib import metadata

    from ..errors import SymgradError
    for name in args.allow_package:
        try:
            metadata.distribution(name)
        except (metadata.PackageNotFoundError, ValueError):
            raise SymgradError(f"--allow-package {one_line(name, 60)}: no such distribution is installed") from None
    return tuple(args.allow_package)


COMMANDS = [add_verify, add_grade]
