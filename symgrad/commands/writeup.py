"""Write-up commands: latex (LaTeX or Markdown derivations), plot (element-wise
functions and their derivatives) and graph (the computation graph)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import SymgradError


def _suffix(path: str, allowed, what: str) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in allowed:
        raise SymgradError(f"{path}: cannot tell the {what} format from the file name; "
                           f"end it in one of: {', '.join('.' + a for a in allowed)}")
    return fmt


def _sections(text):
    from ..emit.latex_sections import SECTIONS
    if text is None:
        return None
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise SymgradError(f"--sections: unknown section(s) {', '.join(unknown) or '(none given)'}; "
                           f"choose from: {', '.join(SECTIONS)}")
    return chosen


def add_latex(sub):
    from ..emit.latex_sections import LAYOUTS, SECTIONS
    p = sub.add_parser("latex", help="the derivation as LaTeX (fragment or --standalone document) or Markdown")
    p.add_argument("spec", metavar="SPEC|NAME", help="a spec file (TOML) or the name of a bundled spec")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--standalone", action="store_true",
                   help="a complete document; with -o, the graph is drawn beside it as FILE-graph.pdf")
    p.add_argument("--markdown", action="store_true", help="Markdown with $$ math (for notebooks)")
    p.add_argument("--sections", metavar="LIST",
                   help=f"comma-separated, in order; default all: {','.join(SECTIONS)}")
    p.add_argument("--layout", choices=LAYOUTS, default="numerator",
                   help="how Jacobians are shown (gradients are always shaped like their variable)")
    p.add_argument("--heading-level", choices=("section", "subsection", "subsubsection", "paragraph", "none"),
                   help="the section titles' command (default: section standalone, paragraph in a fragment, "
                        "so it sits under a problem's own heading)")
    p.add_argument("--title", help="the standalone document's title")
    p.add_argument("--author", help="the standalone document's author")
    p.add_argument("--force", action="store_true", help="replace files symgrad did not generate")
    p.add_argument("--check", action="store_true",
                   help="read every displayed equality back with symgrad's LaTeX reader and prove it equal to "
                        "the derivation (at random points where the proof runs out of time); progress on "
                        "stderr, exit 1 naming the first formula that fails; the document is written only "
                        "when every formula checks")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="with --check: seconds for the whole check (default 600); past it, formulas are "
                        "checked at random points only")
    p.set_defaults(func=cmd_latex)


def _check(d, sections, layout, time_limit) -> int:
    """Run ``latex --check``: 0 when every displayed equality verifies, else 1."""
    from ..emit.latex_check import TIME_LIMIT, check_writeup
    from ..emit.latex_doc import doc_printer
    from ..emit.latex_sections import build
    from ..escape import one_line
    if time_limit is not None and not time_limit > 0:
        raise SymgradError(f"--time-limit: {time_limit:g} is not a positive number of seconds")
    w = build(d, doc_printer(d), sections=sections, layout=layout)
    report = check_writeup(d.textbook, w, time_limit=time_limit or TIME_LIMIT,
                           progress=lambda line: print("symgrad: " + one_line(line), file=sys.stderr, flush=True))
    bad = report.failure
    if bad is not None:
        print(f"symgrad: latex --check FAILED in '{bad.section}': {one_line(bad.claim.lhs)} = "
              f"{one_line(bad.claim.tex)}: {one_line(bad.message)}", file=sys.stderr)
        return 1
    counts = report.counts()
    done = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    print(f"symgrad: latex --check: all {len(report.outcomes)} displayed equalities verified ({done or 'none'}; "
          "symbolic = proven entry by entry, numeric = equal at random points, the proof out of time"
          + ("; the overall time limit passed, so the last ones were checked at random points only"
             if report.stopped else "") + ")", file=sys.stderr)
    return 0


def cmd_latex(args) -> int:
    from ..derive import derive
    from ..emit.latex_doc import render_latex, render_markdown
    from ..io import write_all
    if args.markdown and args.standalone:
        raise SymgradError("--markdown and --standalone do not go together: Markdown is always complete")
    sections = _sections(args.sections)
    d = derive(args.spec)
    if args.check:
        status = _check(d, sections, args.layout, args.time_limit)
        if status:
            return status
    elif args.time_limit is not None:
        raise SymgradError("--time-limit goes with --check")
    if args.markdown:
        text = render_markdown(d, sections=sections, layout=args.layout)
        files = {}
    else:
        out = Path(args.output) if args.output else None
        graph = f"{out.stem}-graph.pdf" if out is not None else f"{d.spec.name}-graph.pdf"
        text = render_latex(d, standalone=args.standalone, sections=sections, layout=args.layout,
                            graph_file=graph, heading=args.heading_level, title=args.title,
                            author=args.author)
        files = {}
        if args.standalone and out is not None and (sections is None or "graph" in sections):
            import shutil

            from ..figures import graph_image
            if shutil.which("dot"):
                files[out.parent / graph] = graph_image(d, "pdf")
            else:   # the document still compiles; it says where the graph would go
                print("symgrad: note: graphviz's dot is not installed, so the graph is left out",
                      file=sys.stderr)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    files = {Path(args.output): text, **files}
    write_all(files, force=args.force)
    for path in files:
        print(f"wrote {path}")
    return 0


def add_plot(sub):
    p = sub.add_parser("plot", help="element-wise functions and their derivatives (from the rule table)")
    p.add_argument("functions", nargs="+", metavar="FUNC", help="e.g. relu leaky_relu softplus gelu")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png, FILE.pdf or FILE.svg")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    from ..figures import PLOT_FORMATS, plot_functions
    from ..io import write_atomic
    fmt = _suffix(args.output, PLOT_FORMATS, "plot")
    write_atomic(args.output, plot_functions(args.functions, fmt))
    print(f"wrote {args.output}")
    return 0


def add_graph(sub):
    p = sub.add_parser("graph", help="the computation graph (graphviz): nodes with names and shapes")
    p.add_argument("spec", metavar="SPEC|NAME", help="a spec file (TOML) or the name of a bundled spec")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.svg, .pdf, .png or .dot")
    p.set_defaults(func=cmd_graph)


def cmd_graph(args) -> int:
    from ..derive import derive
    from ..figures import GRAPH_FORMATS, graph_image
    from ..io import write_atomic
    fmt = _suffix(args.output, GRAPH_FORMATS, "graph")
    write_atomic(args.output, graph_image(derive(args.spec), fmt))
    print(f"wrote {args.output}")
    return 0


COMMANDS = [add_latex, add_plot, add_graph]
