"""Hostile specs: no field of a spec can run code, read a file or escape its output.

A spec is shared like a document. Every free-text field and every output is
tried with the strings below; each is either refused (one line, exit status 2,
nothing written) or appears only as inert text: the generated module's
docstring *is* the description (read back with ast), the LaTeX and Markdown
carry it escaped, no marker file is created by anything that ran, no secret
file's content reaches a PDF.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symgrad import derive
from symgrad.cli import main
from symgrad.emit.latex_doc import render_fragment, render_latex, render_markdown
from symgrad.emit.numpy_module import render_module
from symgrad.emit.pdf import PDFLATEX_FLAGS, compile_pdf
from symgrad.emit.templates import ESCAPE_FILTERS, UnescapedText, environment, templates_root
from symgrad.errors import SymgradError
from symgrad.escape import Untrusted, tex_text
from symgrad.figures import graph_dot
from symgrad.profiles import render as render_profile
from symgrad.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_TOOLS = os.environ.get("SYMGRAD_REQUIRE_TOOLS") == "1"

MARK = "@MARK@"      # replaced by the path of a marker file that must never appear
SECRET = "@SECRET@"  # replaced by the path of a file whose content must never reach an output

HOSTILE = [
    '"""', "'''", '"', "'", '"""\nopen("@MARK@", "w").write("ran")\n"""',
    "'''\nopen('@MARK@', 'w')\n'''", '";open("@MARK@","w");"', "\\", "\\\\", "\\x", "\\N{", "\\u12",
    "end\\", "\n", "\r", "\r\n", "\nimport os; os.system('touch @MARK@')\n", "\rimport os\r",
    "\x00", "\x0c", "\x0b", "\x1b[2J\x1b[31mred", "\x08\x08\x08", "\u2028open('@MARK@','w')",
    "\u2029", "\u0085", "\u202eevil\u202c", "\u200b", "\ufeff", "#", "# -*- coding: rot13 -*-",
    "{{ 7*7 }}", "{{ cycler.__init__.__globals__.os.system('touch @MARK@') }}", "{% raw %}", "{% endraw %}",
    "{# #}", "{%", "%}", "\\input{@SECRET@}", "\\include{@SECRET@}", "\\immediate\\write18{touch @MARK@}",
    "\\write18{touch @MARK@}", "\\openin1=@SECRET@ \\read1 to\\x", "\\catcode`\\%=12", "\\def\\x{\\x}\\x",
    "\\let\\a\\b", "\\csname input\\endcsname{@SECRET@}", "\\newcommand{\\x}{y}", "\\usepackage{shellesc}",
    "\\special{ps: x}", "%", "$", "$$\\input{@SECRET@}$$", "&", "^^5cinput{@SECRET@}", "~", "_^",
    "\\end{document}", "}", "{", "<script>alert(1)</script>", "<!--", "-->", "](javascript:alert(1))",
    "![x](http://evil/x.png)", '=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-1+1",
    "label=<<b>x</b>>", '"];evil[label="', "\\N{LATIN SMALL LETTER A}", "\udcff".encode("utf-8", "surrogatepass")
    .decode("utf-8", "replace"), "é ü ∑ 𝔸 α", "a" * 1500,
]
assert len(HOSTILE) >= 40


def materialize(text: str, tmp: Path) -> str:
    return text.replace(MARK, str(tmp / "MARKER")).replace(SECRET, str(tmp / "secret.txt"))


def toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly (every non-printable as \\uXXXX)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch != "\x7f":
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


BASE = {   # the ridge regression net (it has bundled training data), every field a slot
    "name": "net", "description": "a net",
    "inputs": {"x": "[3]", "y": "[]", "l2_reg": "[]"},
    "params": {"w": "[3]", "b": "[]"},
    "nodes": {"prediction": "x @ w + b", "reg_loss": "l2_reg * sq_norm(w)"},
    "loss": "(prediction - y)**2 + reg_loss",   # y only in the loss: the pset3 profile's observed value
    "latex": {"w": "\\mathbf{w}", "prediction": "\\hat{y}"},
}


def spec_text(field: str | None = None, value: str = "") -> str:
    """BASE as TOML with ``value`` put into ``field``."""
    s = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    if field == "input-name":
        s["inputs"] = {value if k == "l2_reg" else k: v for k, v in s["inputs"].items()}
    elif field == "param-name":
        s["params"][value] = "[2]"
    elif field == "node-name":
        s["nodes"][value] = "x @ w"
    elif field == "size":
        s["inputs"]["x"] = f"[{toml_string(value)}]"
    elif field == "node-expr":
        s["nodes"]["reg_loss"] = value
    elif field == "latex-name":
        s["latex"][value] = "w"
    elif field == "latex":
        s["latex"]["w"] = value
    elif field is not None:
        s[field] = value
    lines = [f"name = {toml_string(s['name'])}", f"description = {toml_string(s['description'])}"]
    for table in ("inputs", "params"):
        lines += [f"[{table}]"] + [f"{toml_string(k)} = {v}" for k, v in s[table].items()]
    lines += ["[nodes]"] + [f"{toml_string(k)} = {toml_string(v)}" for k, v in s["nodes"].items()]
    lines += ["[loss]", f"expr = {toml_string(s['loss'])}", "[latex]"]
    lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in s["latex"].items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def place(tmp_path):
    """A work folder with a secret file, and a function writing a spec into it."""
    (tmp_path / "secret.txt").write_text("TOPSECRET-4f1c9\n")

    def write(field=None, value="", filename="net.toml"):
        path = tmp_path / filename
        path.write_text(spec_text(field, materialize(value, tmp_path)), encoding="utf-8")
        return path
    write.tmp = tmp_path
    return write


def assert_nothing_ran(tmp: Path):
    assert not (tmp / "MARKER").exists(), "a hostile string ran as code"


# -- refused fields: every hostile string, every identifier-like field ----------------------

REFUSING_FIELDS = ["name", "input-name", "param-name", "node-name", "size", "node-expr", "loss",
                   "latex-name"]


@pytest.mark.parametrize("field", REFUSING_FIELDS)
def test_identifier_and_expression_fields_refuse_every_hostile_string_with_one_line(place, field):
    accepted = []
    for value in HOSTILE:
        path = place(field, value)
        try:
            derive(str(path))
        except SymgradError as exc:
            message = str(exc)
            assert "\n" not in message and "\r" not in message and "\x1b" not in message, (value, message)
            assert str(path) in message, (value, message)
        else:
            accepted.append(value)
    assert_nothing_ran(place.tmp)
    # a node may be a constant; no other hostile string is a valid identifier or expression
    assert accepted == (["-1+1"] if field == "node-expr" else []), accepted


def test_display_names_outside_the_math_subset_are_refused_naming_the_field(place):
    accepted = []
    for value in HOSTILE:
        path = place("latex", value)
        try:
            load_spec(str(path))
        except SymgradError as exc:
            assert "latex.w" in str(exc) and "\n" not in str(exc), (value, str(exc))
        else:
            accepted.append(value)
    # plain math: harmless (the primes of W'', braces, digits, letters), compiled below
    assert accepted == ["'''", "'", "{{ 7*7 }}", "-1+1"], accepted


@pytest.mark.parametrize("command", ["derive", "check", "prove", "latex", "graph", "profile", "train",
                                     "verify", "grade"])
def test_every_command_that_reads_a_spec_refuses_a_hostile_one_with_exit_2_and_writes_nothing(
        place, command, capsys):
    tmp = place.tmp
    (tmp / "subs").mkdir()
    cases = [("latex", "\\input{@SECRET@}"), ("latex", "\\immediate\\write18{touch @MARK@}"),
             ("name", '"""\nopen("@MARK@", "w")\n"""'), ("node-expr", "__import__('os').system('touch @MARK@')"),
             ("size", "\x1b[2J"), ("description", "x" * 5000)]
    for field, value in cases:
        spec = str(place(field, value))
        out = tmp / "out"
        argv = {"derive": ["derive", spec, "-o", str(out)], "check": ["check", spec],
                "prove": ["prove", spec], "latex": ["latex", spec, "--standalone", "-o", str(out / "x.tex")],
                "graph": ["graph", spec, "-o", str(out / "g.dot")],
                "profile": ["profile", "pset3", "--spec", spec, "-o", str(out)],
                "train": ["train", spec, "--data", "ridge_regression", "--epochs", "1", "--no-plot",
                          "--save", str(out / "w.npz")],
                "verify": ["verify", spec, "--wrt", "w", "--answer", "x"],
                "grade": ["grade", str(tmp / "subs"), "--spec", spec, "--profile", "pset3", "-o", str(out)],
                }[command]
        capsys.readouterr()
        assert main(argv) == 2, (command, field, value)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("symgrad: error: "), err
        assert "\x1b" not in err and "TOPSECRET" not in err
        assert not out.exists(), f"{command} wrote {sorted(out.rglob('*'))} for a refused spec"
    assert_nothing_ran(tmp)


# -- free text: the description and the file name are inert in every output -------------------

@pytest.mark.parametrize("space", ["\n", "\r", "\r\n", "\x0c", "\x0b", "\u2028", "\u0085", "\t"])
def test_whitespace_inside_an_expression_stays_inside_its_code_comment(place, space):
    """An expression may break lines; the comment that quotes it in generated code may not.
    (Form feeds and Unicode line separators are refused by the parser, naming the column.)"""
    plain = derive(str(place("node-expr", "l2_reg * sq_norm(w) + b")))
    try:
        d = derive(str(place("node-expr", f"l2_reg * sq_norm(w){space}+ b")))
    except SymgradError as exc:   # the parser takes only ASCII white space: the rest is refused
        assert space not in " \t\r\n" and "\n" not in str(exc) and "column 20" in str(exc)
        return
    assert _statements(render_module(d)) == _statements(render_module(plain))
    assert render_module(d) == render_module(plain)
    assert render_profile("pset3", d.spec)[1] == render_profile("pset3", plain.spec)[1]
    assert graph_dot(d) == graph_dot(plain)


def _statements(code: str) -> str:
    """Every statement of a module after its docstring, as an AST dump (no positions)."""
    return ast.dump(ast.Module(ast.parse(code).body[1:], []))


def _docstring_of(code: str) -> str:
    return ast.get_docstring(ast.parse(code), clean=False)


def test_a_hostile_description_is_only_the_docstring_of_the_module_and_the_course_code(place):
    tmp = place.tmp
    plain = derive(str(place("description", "benign")))
    plain_module, plain_profile = render_module(plain), render_profile("pset3", plain.spec)[1]
    for value in HOSTILE[:-1]:
        text = materialize(value, tmp)
        d = derive(str(place("description", value)))
        module = render_module(d)
        assert _docstring_of(module).startswith(f"Forward and backward pass of the network 'net': {text}\n")
        # the same statements as the module of a benign description: nothing added, nothing cut
        assert _statements(module) == _statements(plain_module)
        filename, profile = render_profile("pset3", d.spec)
        assert text in _docstring_of(profile)
        assert _statements(profile) == _statements(plain_profile)
    assert_nothing_ran(tmp)


def _tex_commands(tex: str) -> set:
    """The commands TeX reads in ``tex`` (comments, which TeX skips to the line's end, left out)."""
    code = "\n".join(re.split(r"(?<!\\)%", line, maxsplit=1)[0] for line in tex.splitlines())
    return set(re.findall(r"\\([A-Za-z]+)", code))


def test_a_hostile_description_is_escaped_text_in_latex_and_markdown(place):
    tmp = place.tmp
    benign = derive(str(place("description", "benign")))
    base_doc = render_latex(benign, standalone=True)
    base_fragment, base_md = render_fragment(benign), render_markdown(benign)
    for value in HOSTILE[:-1]:
        text = materialize(value, tmp)
        d = derive(str(place("description", value)))
        doc = render_latex(d, standalone=True)
        # only the escaping macros are new; the description is one paragraph, as escaped text
        assert _tex_commands(doc) - _tex_commands(base_doc) <= {"textbackslash"}, value
        assert f"\\noindent {tex_text(text)}\n" in doc
        assert doc.count("\n") == base_doc.count("\n"), value
        fragment = render_fragment(d)
        assert fragment.count("\n") == base_fragment.count("\n"), value
        assert _tex_commands(fragment) == _tex_commands(base_fragment), value
        md = render_markdown(d)
        assert md.count("\n") == base_md.count("\n"), value
        assert not re.search(r"<[a-z!/]|\]\(", md.replace(base_md.split("\n")[0], "")), value


def _toolcheck(*names):
    for name in names:
        if shutil.which(name) is None:
            if REQUIRE_TOOLS:
                pytest.fail(f"{name} is not installed (CI installs it)")
            pytest.skip(f"{name} is not installed")


def test_pdflatex_runs_without_shell_escape_and_no_document_reads_a_local_file(place, tmp_path):
    _toolcheck("pdflatex", "pdftotext")
    assert "-no-shell-escape" in PDFLATEX_FLAGS
    tex_hostile = [v for v in HOSTILE if "\\" in v or "$" in v or "%" in v or "^" in v]
    description = " ".join(tex_hostile)
    spec = place("description", description, filename="$\\input{secret.txt}.toml")
    out = tmp_path / "doc"
    assert main(["latex", str(spec), "--standalone", "-o", str(out / "doc.tex")]) == 0
    proc = compile_pdf(out / "doc.tex")
    assert proc.returncode == 0, proc.stdout[-2000:]
    text = subprocess.run(["pdftotext", str(out / "doc.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "TOPSECRET" not in text
    assert "input" in text and "write18" in text    # printed as text, not run
    assert_nothing_ran(tmp_path)


def test_pdflatex_itself_refuses_shell_escape_and_reading_outside_the_folder(tmp_path):
    """The layer under the escaping: even a TeX file that asks gets nothing."""
    _toolcheck("pdflatex", "pdftotext")
    (tmp_path / "secret.txt").write_text("TOPSECRET-4f1c9\n")
    doc = tmp_path / "doc"
    doc.mkdir()
    (doc / "t.tex").write_text("\\documentclass{article}\\begin{document}x\n"
                               f"\\immediate\\write18{{touch {tmp_path}/MARKER}}\n"
                               f"\\IfFileExists{{{tmp_path}/secret.txt}}{{\\input{{{tmp_path}/secret.txt}}}}{{}}\n"
                               "\\end{document}\n")
    proc = compile_pdf(doc / "t.tex")
    assert proc.returncode == 0, proc.stdout[-2000:]
    text = subprocess.run(["pdftotext", str(doc / "t.pdf"), "-"], capture_output=True, text=True).stdout
    assert "TOPSECRET" not in text
    assert_nothing_ran(tmp_path)


HOSTILE_FILENAMES = ['a"""b.toml', "x\nimport os\n#.toml", "x\rprint(1)\r.toml", "$\\input{secret.txt}$.toml",
                     "-->\n<script>.toml", 'g"];evil[label="x.toml', "\u2028y.toml", "\x1b[31mred.toml"]


def test_a_hostile_file_name_stays_inside_one_comment_line_of_every_output(place, tmp_path, capsys):
    _toolcheck("dot")
    for filename in HOSTILE_FILENAMES:
        spec = place(filename=filename)
        out = tmp_path / "out"
        shutil.rmtree(out, ignore_errors=True)
        assert main(["derive", str(spec), "-o", str(out)]) == 0
        module = (out / "net.py").read_text()
        assert module.splitlines()[0].startswith("# Generated by symgrad from ")
        assert _statements(module) == _statements(render_module(derive(str(place(filename="plain.toml")))))
        tex = (out / "net.tex").read_text()
        assert tex.splitlines()[0].startswith("% Generated by symgrad from ") and tex.splitlines()[1].startswith("%")
        dot = graph_dot(derive(str(spec)))
        assert dot.splitlines()[0].startswith("// Generated by symgrad from ")
        assert subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True).returncode == 0
        md = render_markdown(derive(str(spec)))
        first = md.splitlines()[0]
        assert first.startswith("<!-- ") and first.endswith(" -->") and first.count("-->") == 1
        assert "<script>" not in md
    assert_nothing_ran(tmp_path)


@pytest.mark.parametrize("payload", ['"""\nopen("@MARK@", "w")\n"""', "\nimport os; os.system('touch @MARK@')\n",
                                     "\\\nopen('@MARK@','w')#", "\u2028open('@MARK@','w')"])
def test_check_imports_the_module_of_a_hostile_spec_and_nothing_runs(place, payload, capsys):
    """`symgrad check` imports the module it renders; the description is a docstring and no more."""
    spec = place("description", payload)
    assert main(["check", str(spec), "--no-proof"]) == 0
    assert_nothing_ran(place.tmp)


def test_the_command_line_of_a_hostile_spec_runs_nothing(place):
    """The same through a real process: every command that reads a spec, one spec."""
    tmp = place.tmp
    spec = place("description", '"""\nopen("@MARK@", "w")\n"""\n\\immediate\\write18{touch @MARK@}',
                 filename="x\nopen('m','w')\n.toml")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for argv in (["derive", str(spec), "-o", str(tmp / "o1")], ["check", str(spec), "--no-proof"],
                 ["latex", str(spec), "--standalone", "-o", str(tmp / "o2" / "d.tex")],
                 ["profile", "pset3", "--spec", str(spec), "-o", str(tmp / "o3")],
                 ["train", str(spec), "--data", "ridge_regression", "--epochs", "1", "--no-plot"]):
        proc = subprocess.run([sys.executable, "-m", "symgrad", *argv], cwd=tmp, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (argv[0], proc.stderr)
    for module in (tmp / "o1" / "net.py", tmp / "o3" / "pset3.py"):
        subprocess.run([sys.executable, str(module)], cwd=tmp, check=True, timeout=120)
    assert_nothing_ran(tmp)
    assert not (tmp / "m").exists()


# -- templates: a user field printed without its filter fails -------------------------------------

def test_printing_untrusted_text_without_a_filter_raises():
    env = environment()
    with pytest.raises(UnescapedText):
        env.from_string("{{ x }}").render(x=Untrusted('"""'))
    assert env.from_string("{{ x | py_docstring }}").render(x=Untrusted('"""')) == '\\"\\"\\"'
    assert env.from_string("{{ x }}").render(x="code") == "code"


USER_FIELDS = {"description", "source"}   # the spec's free text and its file name
STRING_FILTERS = {"replace", "trim", "upper", "lower", "title", "capitalize", "format", "truncate", "wordwrap",
                  "center", "indent", "striptags", "string", "safe", "e", "escape", "urlize", "default", "d"}


def test_templates_print_user_fields_only_through_an_escaping_filter():
    """Static: in every template, an output naming a user field is an escaping filter applied to it
    (a string filter such as replace would turn Untrusted into plain str and hide it from the guard)."""
    from jinja2 import nodes
    env = environment()
    problems = []
    for path in sorted(templates_root().rglob("*.j2")):
        rel = str(path.relative_to(templates_root()))
        tree = env.parse(path.read_text())
        for output in tree.find_all(nodes.Output):
            for expr in output.nodes:
                if isinstance(expr, nodes.TemplateData):
                    continue
                names = {n.name for n in expr.find_all(nodes.Name)} | {a.attr for a in expr.find_all(nodes.Getattr)}
                if isinstance(expr, (nodes.Name, nodes.Getattr)):
                    names |= {getattr(expr, "name", None) or expr.attr}
                filters = [f.name for f in ([expr] if isinstance(expr, nodes.Filter) else [])
                           + list(expr.find_all(nodes.Filter))]
                if names & USER_FIELDS and not (isinstance(expr, nodes.Filter) and expr.name in ESCAPE_FILTERS):
                    problems.append((rel, expr.lineno, sorted(names & USER_FIELDS)))
                if set(filters) & STRING_FILTERS and names & USER_FIELDS:
                    problems.append((rel, expr.lineno, "string filter on a user field"))
    assert not problems, problems
