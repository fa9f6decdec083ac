"""Course commands: profile (code in a course's own interface) and train."""

from __future__ import annotations

from pathlib import Path


def add_profile(sub):
    from ..profiles import names
    p = sub.add_parser("profile", help="write code in a course's own interface (" + ", ".join(names()) + ")")
    p.add_argument("name", metavar="PROFILE", help="one of: " + ", ".join(names()))
    p.add_argument("--spec", metavar="SPEC|NAME", default=None,
                   help="a spec file or bundled name (default: the profile's own bundled spec)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--force", action="store_true", help="replace a file symgrad did not generate")
    p.set_defaults(func=cmd_profile)


def cmd_profile(args) -> int:
    from ..io import write_all
    from ..profiles import render
    filename, text = render(args.name, args.spec)
    path = Path(args.output) / filename
    write_all({path: text}, force=args.force)
    print(f"wrote {path}")
    return 0


COMMANDS = [add_profile]
