"""serve: the answer-checking web page."""

from __future__ import annotations


def add_serve(sub):
    p = sub.add_parser("serve", help="a web page where students check their gradient formulas (LaTeX or "
                                     "the expression language) against the bundled specs")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--specs", metavar="DIR",
                   help="an instructor's folder of spec files (TOML) instead of the bundled specs")
    p.add_argument("--workers", type=int, default=2, help="answers checked at the same time; more wait (default 2)")
    p.add_argument("--time-limit", type=float, default=5.0, metavar="SECONDS", help="limit per answer's proof")
    p.add_argument("--show-key", action="store_true", help="show the answer key after a correct answer")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from ..web.server import Settings, serve
    settings = Settings(specs_dir=args.specs, workers=args.workers, time_limit=args.time_limit,
                        show_key=args.show_key)
    return serve(args.host, args.port, settings)


COMMANDS = [add_serve]
