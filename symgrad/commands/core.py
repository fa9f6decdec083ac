"""Core commands: list, derive, check, prove."""

from __future__ import annotations

from pathlib import Path

from ..check.report import UNDECIDED
from ..escape import one_line


def _spec_arg(p):
    p.add_argument("spec", metavar="SPEC|NAME", help="a spec file (TOML) or the name of a bundled spec")


def _format_table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def add_list(sub):
    p = sub.add_parser("list", help="list the bundled specs, one a line, name first")
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from ..spec import bundled_names, load_spec
    names = bundled_names()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {one_line(load_spec(name).description)}")
    return 0


def add_derive(sub):
    p = sub.add_parser("derive", help="derive every gradient; write DIR/NAME.py (numpy) and DIR/NAME.tex")
    _spec_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--force", action="store_true", help="replace files symgrad did not generate")
    p.set_defaults(func=cmd_derive)


def cmd_derive(args) -> int:
    from ..derive import derive
    from ..emit.latex_doc import render_fragment
    from ..emit.numpy_module import render_module
    from ..io import write_all
    d = derive(args.spec)
    out = Path(args.output)
    files = {out / f"{d.spec.name}.py": render_module(d), out / f"{d.spec.name}.tex": render_fragment(d)}
    write_all(files, force=args.force, root=out)
    for path in files:
        print(f"wrote {path}")
    return 0


TIME_LIMITS = {"check": 60.0, "prove": 300.0}


def add_check(sub, name="check"):
    helps = {"check": "finite differences, then a proof of every gradient entry; exit 1 on a failure, "
                      f"{UNDECIDED} when the proof runs out of time",
             "prove": "the same as check, always with the proof and a longer time limit"}
    p = sub.add_parser(name, help=helps[name])
    _spec_arg(p)
    p.add_argument("--seed", type=int, default=0, help="random seed for the check points")
    p.add_argument("--time-limit", type=float, default=TIME_LIMITS[name], metavar="SECONDS",
                   help=f"stop the proof after this long (default {TIME_LIMITS[name]:g}); entries left are "
                        f"reported as undecided, exit status {UNDECIDED}")
    if name == "check":
        p.add_argument("--no-proof", action="store_true", help="finite differences only")
    else:
        p.set_defaults(no_proof=False)
    p.set_defaults(func=cmd_check)


def add_prove(sub):
    add_check(sub, "prove")


def cmd_check(args) -> int:
    import sys

    from ..check.numeric import TOLERANCE, check_module, load_module
    from ..derive import derive
    from ..emit.numpy_module import render_module
    from ..errors import SymgradError
    from ..ir import show_shape
    if not args.time_limit > 0 or args.time_limit != args.time_limit:
        raise SymgradError(f"--time-limit must be a positive number of seconds, not {args.time_limit:g}")
    d = derive(args.spec)
    module = load_module(render_module(d), d.spec.name)
    numeric = check_module(d, module, seed=args.seed)
    rows = [[p.name, show_shape(d.graph.variables()[p.name].shape), f"{p.max_rel_error:.2e}", "ok" if p.ok else "FAIL"]
            for p in numeric.params]
    sizes = ", ".join(f"{k}={v}" for k, v in numeric.sizes.items()) or "fixed"
    print(f"{d.spec.name}: finite differences (float64, 4th-order central, sizes {sizes}, "
          f"tolerance {TOLERANCE:g})")
    print(_format_table(["parameter", "shape", "max rel error", "verdict"], rows))
    for note in numeric.notes:
        print(f"note: {note}")
    if args.no_proof:
        print("all gradients check" if numeric.ok else "FAILED")
        return 0 if numeric.ok else 1
    sys.stdout.flush()
    from ..check.report import run_proof
    status = run_proof(d, args.spec, args.time_limit, _format_table)
    if not numeric.ok:
        print("FAILED (finite differences)")
        return 1
    return status


COMMANDS = [add_list, add_derive, add_check, add_prove]
