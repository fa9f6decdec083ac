"""Hostile strings for the answer readers (``--answer`` and ``--latex``), shared by
tests/test_hostile_answers.py and benchmarks/hostile_answers.py.

Each entry is (label, text, allowed exit statuses). Most must be refused (exit
2); a few are legitimate answers that happen to look odd (a trailing CRLF, a
huge but representable literal) and may get a verdict (0 correct, 1 incorrect)
instead. None may end in an internal error (exit 3) or hang. All are answers
for the bundled spec ``titanic`` with ``--wrt W1``; the correct answer is
``A.T @ d_B``.
"""

import os
import pickle
import resource
import select
import signal
import time

REFUSED = (2,)
VERDICT = (0, 1, 2)

GOOD = "A.T @ d_B"
GOOD_LATEX = r"A^T \frac{\partial L}{\partial B}"

ANSWERS = [
    # literal and exponent bombs
    ("exp-neg-huge", "1e-9999999*W1+d_W1", REFUSED),
    ("exp-zero-huge", "0e9999999*W1+d_W1", REFUSED),
    ("exp-pos-huge", "1e9999999*W1", REFUSED),
    ("exp-999", "1e999 * W1", REFUSED),
    ("exp-neg-999", "1e-999 * W1 + d_W1", REFUSED),
    ("exp-many-digits", "1e" + "9" * 30 + " * W1", REFUSED),
    ("exp-leading-zeros", "1e" + "0" * 35 + "1 * d_W1", VERDICT),
    ("many-digits", "1" * 60 + " * W1", REFUSED),
    ("many-decimals", "0." + "0" * 60 + "1 * W1 + d_W1", REFUSED),
    ("power-tower", "9**9**9", REFUSED),
    ("power-of-power", "(W1**999)**999", REFUSED),
    ("const-power-tower", "((((1e30)**64)**64)**64)**64 * W1", REFUSED),
    ("const-power-neg", "((((1e-30)**64)**64)**64)**64 * W1 + d_W1", REFUSED),
    ("const-product-overflow", "*".join(["1e300"] * 5) + " * W1", REFUSED),
    ("const-divide-zero", "W1 * (1/0)", REFUSED),
    ("const-divide-zero-power", "W1 * 0**-1", REFUSED),
    ("nan-name", "nan * W1", REFUSED),
    ("inf-name", "inf * W1", REFUSED),
    ("hex-literal", "0x10 * W1", REFUSED),
    ("underscore-literal", "1_000 * W1", REFUSED),
    ("complex-literal", "1j * W1", REFUSED),
    # size bombs
    ("broadcast-huge", "broadcast_to(W1, 1000000, 1000000)", VERDICT),
    ("broadcast-4d", "broadcast_to(d_W1, 1000000, 1000000, 4, 4)", REFUSED),
    ("broadcast-big", "sum(broadcast_to(d_W1, 1000, 1000, 4, 4), axis=0)", REFUSED),
    ("broadcast-symbolic", "broadcast_to(d_W1, n, n, n, n, n, n, n, n, n, n, n, n, 4, 4)", REFUSED),
    ("ones-huge", "ones(1000000, 1000000) @ ones(1000000, 1) * W1", VERDICT),
    ("ones-big", "d_W1 + sum(ones(100000, 1000)) * 0", REFUSED),
    ("zeros-huge", "zeros(1000000, 1000000)", REFUSED),
    ("size-float", "broadcast_to(W1, 4.5, 4)", REFUSED),
    ("size-negative", "broadcast_to(W1, -4, 4)", REFUSED),
    ("size-exp", "broadcast_to(W1, 1e300, 4)", REFUSED),
    ("outer-bomb", "outer(reshape(broadcast_to(W1, 1000, 4, 4), 16000), reshape(broadcast_to(W1, 1000, 4, 4), 16000))",
     REFUSED),
    ("work-bomb", " + ".join(["sum(broadcast_to(W1, 300, 300, 4, 4))"] * 40) + " + d_W1", REFUSED),
    ("slice-huge", "slice(d_W1, axis=0, start=0, stop=1000000000000)", REFUSED),
    ("slice-axis-huge", "slice(d_W1, axis=99999999999, start=0, stop=1)", REFUSED),
    ("expand-axis-huge", "expand_dims(d_W1, axis=10000000000000)", REFUSED),
    ("sum-axis-huge", "sum(d_W1, axis=1e30)", VERDICT),
    ("softmax-axis-huge", "softmax(d_W1, axis=-99999999999999)", VERDICT),
    ("leaky-slope-huge", "leaky_relu(d_W1, 1e39)", VERDICT),
    ("slice-symbolic-bounds", "slice(d_W1, axis=0, start=n, stop=2*n)", REFUSED),
    ("slice-fraction", "slice(d_W1, axis=0, start=0.5, stop=2)", REFUSED),
    ("broadcast-no-sizes", "broadcast_to(d_W1)", REFUSED),
    ("expand-no-axis", "expand_dims(d_W1)", REFUSED),
    ("size-power", "broadcast_to(d_W1, n**64, 4, 4)", REFUSED),
    ("const-complex", "(-8)**0.5 * W1", REFUSED),
    ("composite-nest", "bce(" * 30 + "sigmoid(d_W1)" + ", W1)" * 30, VERDICT),
    ("size-symbol-power", "(n**64)**64 * d_W1", VERDICT),
    # length, nesting, work
    ("long-sum", "W1 + " * 2000 + "W1", REFUSED),
    ("deep-parens", "(" * 500 + "W1" + ")" * 500, REFUSED),
    ("deep-unary", "-" * 3000 + "W1", REFUSED),
    ("deep-calls", "relu(" * 300 + "W1" + ")" * 300, REFUSED),
    ("long-transpose", "W1" + ".T" * 1900, REFUSED),
    ("long-product", "*".join(["W1"] * 1300), REFUSED),
    ("long-matmul", "@".join(["W1"] * 1300), REFUSED),
    ("long-minus", "-".join(["W1"] * 1300), REFUSED),
    ("many-args", "concat(" + ", ".join(["W1"] * 1300) + ")", REFUSED),
    ("exactly-too-long", "W1" + " " * 4000, REFUSED),
    ("empty", "", REFUSED),
    ("only-space", "   ", REFUSED),
    # code injection and Python syntax
    ("dunder-import", "__import__('os').system('touch /tmp/pwned')", REFUSED),
    ("dunder-attr", "W1.__class__", REFUSED),
    ("attr", "W1.shape", REFUSED),
    ("lambda", "lambda: W1", REFUSED),
    ("fstring", "f'{W1}'", REFUSED),
    ("list-comp", "[w for w in W1]", REFUSED),
    ("subscript", "W1[0]", REFUSED),
    ("triple-quotes", '"""W1"""', REFUSED),
    ("triple-single", "'''\nW1\n'''", REFUSED),
    ("backslash", "W1 \\ d_W1", REFUSED),
    ("backslash-newline", "d_W1 \\\n+ 0", REFUSED),
    ("hash-comment", "d_W1 # comment", REFUSED),
    ("jinja-expr", "{{ W1 }}", REFUSED),
    ("jinja-stmt", "{% for x in W1 %}", REFUSED),
    ("jinja-comment", "{# W1 #}", REFUSED),
    ("semicolon", "d_W1; import os", REFUSED),
    ("walrus", "(x := d_W1)", REFUSED),
    ("kw-unknown", "relu(d_W1, exec=1)", REFUSED),
    ("kw-twice", "sum(d_W1, axis=0, axis=1)", REFUSED),
    ("kw-bool-junk", "sum(d_W1, keepdims=os)", REFUSED),
    ("unknown-func", "eval(d_W1)", REFUSED),
    ("func-as-name", "relu", REFUSED),
    ("call-non-name", "(W1)(W1)", REFUSED),
    ("tex-in-answer", r"\input{/etc/passwd}", REFUSED),
    # control and unicode characters
    ("nul", "d_W1\x00", REFUSED),
    ("nul-middle", "d_W1 +\x00 0", REFUSED),
    ("crlf-trailing", "A.T @ d_B\r\n", VERDICT),
    ("cr-middle", "A.T\r@ d_B", VERDICT),
    ("newline-middle", "A.T\n@ d_B", VERDICT),
    ("lf-injection", "d_W1\nsymgrad: correct", REFUSED),
    ("escape-seq", "d_W1\x1b[2J", REFUSED),
    ("bell", "d_W1\x07", REFUSED),
    ("backspace", "d_W1\x08\x08\x08\x08W1", REFUSED),
    ("u2028", "d_W1\u2028+ 0", REFUSED),
    ("u2029", "d_W1\u2029", REFUSED),
    ("u0085", "d_W1\u0085", REFUSED),
    ("nbsp", "d_W1\u00a0+ 0", REFUSED),
    ("ideographic-space", "d_W1\u3000+ 0", REFUSED),
    ("zero-width-space", "d\u200b_W1", REFUSED),
    ("zero-width-joiner", "d_W1\u200d", REFUSED),
    ("bom", "\ufeffd_W1", REFUSED),
    ("bidi-override", "d_W1 \u202e+ 0", REFUSED),
    ("bidi-isolate", "\u2066d_W1\u2069", REFUSED),
    ("cyrillic", "\u0410.T @ d_B", REFUSED),
    ("fullwidth-digit", "\uff11 * d_W1", REFUSED),
    ("arabic-digit", "\u0661 * d_W1", REFUSED),
    ("devanagari-digit", "\u0967e5 * d_W1", REFUSED),
    ("superscript-two", "d_W1\u00b2", REFUSED),
    ("math-bold", "\U0001d400.T @ d_B", REFUSED),
    ("surrogate", "d_W1\udcff", REFUSED),
    ("emoji", "d_W1 \U0001f600", REFUSED),
    ("combining", "d_W1\u0301", REFUSED),
    ("fullwidth-plus", "d_W1 \uff0b 0", REFUSED),
    ("minus-sign", "\u2212d_W1", REFUSED),
]

LATEX = [
    ("tex-input", r"\input{/etc/passwd}", REFUSED),
    ("tex-include", r"\include{x}", REFUSED),
    ("tex-def", r"\def\x{1}", REFUSED),
    ("tex-newcommand", r"\newcommand{\x}{1}", REFUSED),
    ("tex-write18", r"\immediate\write18{touch /tmp/pwned}", REFUSED),
    ("tex-catcode", r"\catcode`\^=7", REFUSED),
    ("tex-csname", r"\csname W\endcsname", REFUSED),
    ("tex-verbatim", r"\verb|x|", REFUSED),
    ("tex-openout", r"\openout1=x", REFUSED),
    ("tex-backslash-backslash", r"W^{(1)} \\ W^{(1)}", REFUSED),
    ("tex-percent", r"\mathbf{A}^T % comment", REFUSED),
    ("tex-ampersand", r"\mathbf{A}^T & B", REFUSED),
    ("tex-hash", r"#1", REFUSED),
    ("tex-dollar", r"$\mathbf{A}^T$", VERDICT),   # math delimiters are dropped (issue 16)
    ("tex-dollar-inside", r"\mathbf{A}^T $ B", REFUSED),
    ("tex-hat-chain", "\\hat " * 3000 + "B", REFUSED),
    ("tex-sqrt-chain", "\\sqrt " * 3000 + "B", REFUSED),
    ("tex-equation-no-derivative", r"B = A", REFUSED),
    ("tex-number-huge", "9" * 60 + r" \mathbf{W}^{(1)}", REFUSED),
    ("tex-decimals", "0." + "0" * 60 + "1", REFUSED),
    ("tex-power-tower", r"\left(\left(\left(\left(10^{64}\right)^{64}\right)^{64}\right)^{64}\right)^{64}", REFUSED),
    ("tex-power-nested", "10^{" * 30 + "9" + "}" * 30, REFUSED),
    ("tex-frac-zero", r"\frac{1}{0} \mathbf{W}^{(1)}", REFUSED),
    ("tex-deep-braces", "{" * 500 + "B" + "}" * 500, REFUSED),
    ("tex-deep-left", r"\left(" * 300 + "B" + r"\right)" * 300, REFUSED),
    ("tex-deep-frac", r"\frac{" * 200 + "1" + "}{2}" * 200, REFUSED),
    ("tex-deep-sum", r"\sum_0 " * 500 + "B", REFUSED),
    ("tex-deep-sigma", r"\sigma " * 500 + "B", REFUSED),
    ("tex-long-juxt", "B " * 1999, REFUSED),
    ("tex-long-transpose", "B" + "^T" * 1500, REFUSED),
    ("tex-long-sum", "B + " * 1000 + "B", REFUSED),
    ("tex-too-long", "B" + " " * 4000, REFUSED),
    ("tex-sum-axis-huge", r"\sum_{99999999999999999999} B", VERDICT),
    ("tex-opname-sum-axis", r"\operatorname{sum}_{" + "9" * 50 + "}(B)", REFUSED),
    ("tex-slice-huge", r"\left[B\right]_{:, 1:99999999999999}", REFUSED),
    ("tex-empty", "", REFUSED),
    ("tex-only-space", r"\quad \, ~", REFUSED),
    ("tex-nul", "B\x00", REFUSED),
    ("tex-crlf", GOOD_LATEX + "\r\n", VERDICT),
    ("tex-u2028", "B\u2028", REFUSED),
    ("tex-u0085", "B\u0085", REFUSED),
    ("tex-bidi", "B\u202e", REFUSED),
    ("tex-zero-width", "\\ma\u200bthbf{A}", REFUSED),
    ("tex-unicode-digit", "\u0661 B", REFUSED),
    ("tex-jinja", "{{ B }}", VERDICT),
    ("tex-jinja-stmt", "{% if x %}", REFUSED),
    ("tex-triple-quotes", '"""B"""', REFUSED),
    ("tex-dunder", "__import__", REFUSED),
    ("tex-unclosed-left", r"\left( B", REFUSED),
    ("tex-bad-left", r"\left. B \right.", REFUSED),
    ("tex-frac-unclosed", r"\frac{", REFUSED),
    ("tex-caret-end", "B^", REFUSED),
    ("tex-underscore-end", "B_", REFUSED),
    ("tex-prime-junk", r"\sigma^{\prime}", REFUSED),
    ("tex-partial-junk", r"\frac{\partial L}{\partial", REFUSED),
    ("tex-indicator-junk", r"\mathbb{1}", REFUSED),
    ("tex-indicator-unclosed", r"\mathbb{1}[B > 0", REFUSED),
    ("tex-operatorname-empty", r"\operatorname{}", REFUSED),
    ("tex-operatorname-unclosed", r"\operatorname{relu", REFUSED),
    ("tex-sum-end", r"\sum", REFUSED),
    ("tex-sum-sub-end", r"\sum_", REFUSED),
    ("tex-diag-alone", r"\operatorname{diag}(B)", VERDICT),
    ("tex-slice-end", r"\left[B\right]_{", REFUSED),
    ("tex-brackets", "[B]", REFUSED),
    ("tex-right-alone", r"\right)", REFUSED),
    ("tex-pipes", r"\left| B \right|", REFUSED),
]


def in_fork(fn, *args, hang: float, headroom: int | None = None):
    """fn(*args) in a forked child, killed after ``hang`` seconds: ("ok", value),
    ("raised", message), or None (a hang, or a child that died without answering).
    ``headroom`` caps the child's address space above what it has mapped (no
    out-of-memory can take the caller down). A single long C operation (10**9999999)
    is not interrupted by a signal handler, so a fork, not an alarm."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: never returns into the caller
        code = 1
        try:
            os.close(read)
            if headroom is not None:
                with open("/proc/self/statm") as f:
                    mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
                resource.setrlimit(resource.RLIMIT_AS, (mapped + headroom, mapped + headroom))
            try:
                data = pickle.dumps(("ok", fn(*args)))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                data = pickle.dumps(("raised", f"{type(exc).__name__}: {str(exc)[:500]}"))
            with os.fdopen(write, "wb") as f:
                f.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    chunks, deadline = [], time.monotonic() + hang
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read], [], [], 0.1)
            if ready:
                chunk = os.read(read, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        else:
            os.kill(pid, signal.SIGKILL)
            return None
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    return pickle.loads(b"".join(chunks)) if chunks else None
