"""Core commands: list, derive, check, prove."""

from __future__ import annotations

from pathlib import Path

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


def add_check(sub, name="check"):
    helps = {"check": "finite differences and an entry-by-entry proof; exit 1 on a failure",
             "prove": "the same as check, always with the proof"}
    p = sub.add_parser(name, help=helps[name])
    _spec_arg(p)
    p.add_argument("--seed", type=int, default=0, help="random seed for the check points")
    if name == "check":
        p.add_argument("--no-proof", action="store_true", help="finite differences only")
    else:
        p.set_defaults(no_proof=False)
    p.set_defaults(func=cmd_check)


def add_prove(sub):
    add_check(sub, "prove")


def cmd_check(args) -> int:
    from ..check.numeric import TOLERANCE, check_module, load_module
    from ..check.proof import prove
    from ..derive import derive
    from ..emit.numpy_module import render_module
    from ..ir import show_shape
    d = derive(args.spec)
    module = load_module(render_module(d), d.spec.name)
    numeric = check_module(d, module, seed=args.seed)
    proof = None if args.no_proof else prove(d)
    rows = []
    proven = {pp.name: pp for pp in proof.params} if proof else {}
    for p in numeric.params:
        shape = show_shape(d.graph.variables()[p.name].shape)
        row = [p.name, shape, f"{p.max_rel_error:.2e}", "ok" if p.ok else "FAIL"]
        if proof:
            pp = proven.get(p.name)   # a node's adjoint (gradients = [...]) is not proven
            row += [f"{pp.proven}/{pp.entries}", "proven" if pp.ok else "FAIL"] if pp else ["-", "-"]
        rows.append(row)
    header = ["parameter", "shape", "max rel error", "verdict"]
    if proof:
        header += ["entries", "proof"]
    sizes = ", ".join(f"{k}={v}" for k, v in numeric.sizes.items()) or "fixed"
    proven_at = (", ".join(f"{k}={v}" for k, v in proof.sizes.items()) or "as declared") if proof else ""
    print(f"{d.spec.name}: finite differences (float64, 4th-order central, sizes {sizes}, "
          f"tolerance {TOLERANCE:g})" + (f"; proof at sizes {proven_at}" if proof else ""))
    print(_format_table(header, rows))
    for note in numeric.notes:
        print(f"note: {note}")
    if proof:
        lemmas = ", ".join(f"{k}' {'proven' if v else 'NOT proven'}" for k, v in proof.lemmas.items())
        if lemmas:
            print(f"element-wise derivatives: {lemmas}")
        print(f"proof took {proof.seconds:.2f} s")
    ok = numeric.ok and (proof is None or proof.ok)
    print("all gradients check" if ok else "FAILED")
    return 0 if ok else 1


COMMANDS = [add_list, add_derive, add_check, add_prove]
