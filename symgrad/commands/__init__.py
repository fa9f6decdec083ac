"""Subcommands of the ``symgrad`` program.

Each module holds ``add_<name>(subparsers)`` functions that declare a
subcommand and point it at its ``cmd_<name>(args) -> exit status``; the
modules are listed once, in :data:`MODULES`. Adding a command means adding a
module (or a function to one) and a line here.
"""

MODULES = [
    "core",
    "courses",
    "writeup",
    "verify",
    "gradescope",
    "serve",
]
