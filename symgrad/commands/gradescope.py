"""gradescope: the autograder zip for a spec and a course profile."""

from __future__ import annotations


def add_gradescope(sub):
    from ..profiles import names
    p = sub.add_parser("gradescope", help="a Gradescope autograder zip that grades submissions with symgrad's sandbox")
    p.add_argument("--spec", required=True, metavar="SPEC|NAME", help="a spec file (TOML) or a bundled spec's name")
    p.add_argument("--profile", required=True, choices=tuple(names()), help="the course interface graded")
    p.add_argument("-o", "--output", required=True, metavar="FILE.zip", help="where the zip goes")
    p.add_argument("--points", metavar="FILE.toml",
                   help="points per function: default = N, visibility = \"...\", [points] name = N (default: 1 each)")
    p.add_argument("--wheel", metavar="FILE.whl", help="the symgrad wheel to ship (default: built from this checkout)")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS", help="wall-clock limit per run")
    p.add_argument("--memory", type=int, default=1024, metavar="MB", help="memory a submission may allocate")
    p.set_defaults(func=cmd_gradescope)


def cmd_gradescope(args) -> int:
    from ..escape import one_line
    from ..platforms.autograder_zip import build_zip
    config = build_zip(args.spec, args.profile, args.output, points_file=args.points, wheel=args.wheel,
                       time_limit=args.time_limit, memory_mb=args.memory)
    print(f"wrote {one_line(args.output)}: {one_line(config['spec'])} / {config['profile']}, "
          f"{len(config['functions'])} tests, {config['max_score']:g} points, {config['wheel']}")
    return 0


def check_format_options(fmt: str, points_file) -> None:
    """``grade --points`` only with a format that has points, and a readable points file."""
    from ..errors import SymgradError
    from ..platforms.gradescope import load_points
    if points_file and fmt not in ("gradescope", "otter"):
        raise SymgradError("--points needs --format gradescope or --format otter")
    load_points(points_file)


def write_converted(out_dir, fmt: str, points_file=None) -> str:
    """grades.json in ``out_dir`` converted to ``grades.<fmt>.json`` (``symgrad grade --format``)."""
    import json
    from pathlib import Path

    from ..io import write_atomic
    from ..platforms.gradescope import convert_grades, load_points
    from ..verify.grade import REPORT_JSON
    out_dir = Path(out_dir)
    grades = json.loads((out_dir / REPORT_JSON).read_text())
    target = out_dir / f"grades.{fmt}.json"
    write_atomic(target, json.dumps(convert_grades(grades, fmt, load_points(points_file)), indent=1) + "\n",
                 root=out_dir)
    return str(target)


COMMANDS = [add_gradescope]
