"""The ``symgrad`` command line.

Subcommands live in :mod:`symgrad.commands`. A SymgradError becomes one line
on stderr (control characters shown as escapes: a message may quote a file
name or a spec's text) and exit status 2; nothing is written until everything has been
computed; a bug in symgrad itself is exit status 3.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from .errors import SymgradError
from .escape import one_line


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) just that subcommand's parser: some commands'
    options are read from the course registry, which costs imports another command
    does not need (a ``symgrad verify`` starts faster). ``add_<command>`` adds ``<command>``."""
    from .commands import MODULES
    parser = argparse.ArgumentParser(
        prog="symgrad", description="Derive, render and check the gradients of a network declared "
                                    "as symbolic matrix expressions.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    adds = [add for name in MODULES for add in importlib.import_module(f"symgrad.commands.{name}").COMMANDS]
    if only is not None and any(add.__name__ == f"add_{only}" for add in adds):
        adds = [add for add in adds if add.__name__ == f"add_{only}"]
    for add in adds:
        add(sub)
    return parser


#: Options whose value is a formula: a formula may begin with '-' ("-X.T @ d_H"),
#: which argparse would take for an option of its own.
FORMULA_OPTIONS = ("--answer", "--latex")


_OPTION = re.compile(r"--[a-z][a-z-]*(=.*)?|-h", re.DOTALL)


def _attach_formulas(argv: list) -> list:
    """``--answer -X`` as ``--answer=-X``, so a negative answer is not taken for an
    option; a value that looks like one of symgrad's own options (``--wrt``) is left alone."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in FORMULA_OPTIONS and i + 1 < len(argv) and not _OPTION.fullmatch(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
    args = parser.parse_args(_attach_formulas(argv))
    try:
        return args.func(args)
    except SymgradError as exc:
        print(f"symgrad: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symgrad: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in symgrad, not bad input
        if os.environ.get("SYMGRAD_DEBUG"):
            raise
        print(f"symgrad: internal error: {type(exc).__name__}: {one_line(exc, 500)} "
              "(set SYMGRAD_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
