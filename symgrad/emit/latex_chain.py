"""The chain-rule section: every adjoint step by step, each with its local Jacobian
(read off the form of the rule table's VJP), the index-notation argument for affine
and element-wise steps, and fused steps (sigmoid + BCE, softmax + NLL) checked with sympy."""

from __future__ import annotations

from .. import names as naming
from ..ir import Var
from ..rules import RULES
from ..rules.core import ADD, MUL, Printed, wrap
from ..rules.linalg import transposed_latex
from .latex_base import Block, Claim, Context, fused_form
from .latex_collapse import inline_collapse
from .latex_steps import Step, adjoint_targets, total


def _identity(c: Context, n: str) -> str:
    shape = c.shape(n)
    import sympy as sp
    count = sp.Mul(*shape) if shape else 1
    return "1" if count == 1 else r"I_{%s}" % c.p.dim(count)


def _jacobian(c: Context, s: Step) -> tuple[str, list, list, str]:
    """(chain term, Jacobian rows, index-notation rows, sentence) of one step."""
    t, src = s.target, s.source
    J = r"\frac{\partial %s}{\partial %s}" % (c.name(src), c.name(t))
    g = c.adj(src)
    chain = (r"\left(%s\right)^\top %s" % (J, g)) if c.layout == "numerator" else f"{J} {g}"
    vector = len(c.shape(t)) <= 1 and len(c.shape(src)) <= 1
    num = c.layout == "numerator"
    k = s.kind
    if k == "identity":
        index = []
        if t in c.d.graph.params and c.shape(t):
            index = [(r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(t, "i")),
                      r"\sum_r %s \frac{\partial %s}{\partial %s} = \sum_r %s \delta_{ri} = %s"
                      % (c.adj_elem(src, "r"), c.elem(src, "r"), c.elem(t, "i"), c.adj_elem(src, "r"),
                         c.adj_elem(src, "i"))),
                     (r"\Rightarrow " + c.adj(t), g)]
        return chain, [(J, _identity(c, t))] if vector else [], index, \
            f"${c.name(src)}$ depends on ${c.name(t)}$ through a sum, so the adjoint passes through unchanged."
    if k == "negated":
        return chain, [(J, "-" + _identity(c, t))] if vector else [], [], \
            f"${c.name(t)}$ enters ${c.name(src)}$ with a minus sign."
    if k == "scale":
        return chain, [(J, f"{c.tex(s.factor)} {_identity(c, t)}")] if vector else [], [], \
            f"${c.name(src)}$ is ${c.name(t)}$ scaled by ${c.tex(s.factor)}$."
    if k == "diagonal":
        e = wrap(c.p.print(s.factor), MUL + 1)
        if vector:
            jac = [(J, r"\operatorname{diag}\left(%s\right)" % c.tex(s.factor)),
                   (r"\left[%s\right]_{ij}" % J, r"\delta_{ij}\, %s" % c.expr_elem(s.factor, "i"))]
            index = [(c.adj_elem(t, "i"),
                      r"\sum_j %s \frac{\partial %s}{\partial %s} = %s\, %s"
                      % (c.adj_elem(src, "j"), c.elem(src, "j"), c.elem(t, "i"), c.adj_elem(src, "i"),
                         c.expr_elem(s.factor, "i"))),
                     (r"\Rightarrow " + c.adj(t), f"{g} \\odot {e}")]
        else:
            chain = f"{g} \\odot {e}"
            jac = [(r"\frac{\partial %s}{\partial %s}" % (c.elem(src, "ij"), c.elem(t, "kl")),
                    r"\delta_{ik} \delta_{jl}\, %s" % c.expr_elem(s.factor, "ij"))]
            index = [(r"\Rightarrow " + c.adj(t), f"{g} \\odot {e}")]
        return chain, jac, index, (f"${c.name(src)}$ is an element-wise function of ${c.name(t)}$: its "
                                   f"Jacobian is diagonal, with the derivative ${e}$ of that function, "
                                   "entry by entry, on the diagonal.")
    if k == "softmax" and len(c.shape(src)) == 2 and _softmax_axis(c, src) in (1, -1):
        a, z = c.elem(src, "i,:"), c.elem(t, "i,:")
        Ji = r"\frac{\partial %s}{\partial %s}" % (a, z)
        return c.tex(s.expr), [(Ji, r"\operatorname{diag}\left(%s\right) - %s^\top %s" % (a, a, a)),
                               (r"\frac{\partial %s}{\partial %s}" % (c.elem(src, "ik"), c.elem(t, "il")),
                                r"%s \left(\delta_{kl} - %s\right)" % (c.elem(src, "ik"), c.elem(src, "il")))], [], \
            (f"${c.name(src)}$ is the softmax of ${c.name(t)}$ along each row, so row $i$ of "
             f"${c.name(src)}$ (written ${a}$) depends on row $i$ of ${c.name(t)}$ only, through the softmax "
             "Jacobian below, which is symmetric; stacking the rows gives the product entry by entry, "
             "with each row's sum broadcast back across that row.")
    if k == "softmax":
        p = c.tex(s.factor)
        return chain, [(J, r"\operatorname{diag}\left(%s\right) - %s %s^\top" % (p, p, p)),
                       (r"\left[%s\right]_{ij}" % J, r"%s \left(\delta_{ij} - %s\right)"
                        % (c.elem(src, "i"), c.elem(src, "j")))], [], \
            (f"${c.name(src)}$ is the softmax of ${c.name(t)}$; its Jacobian is symmetric, "
             "so it reads the same in both layouts.")
    if k == "matrix":
        W = c.tex(s.factor)
        WT = transposed_latex(c.p.print(s.factor))
        Wn = s.factor.name if isinstance(s.factor, Var) else None
        index = []
        if Wn:
            index = [(c.adj_elem(t, "j"),
                      r"\sum_i %s \frac{\partial %s}{\partial %s} = \sum_i %s\, %s"
                      % (c.adj_elem(src, "i"), c.elem(src, "i"), c.elem(t, "j"), c.adj_elem(src, "i"),
                         c.elem(Wn, "ij"))),
                     (r"\Rightarrow " + c.adj(t), f"{WT} {g}")]
        return chain, [(J, W if num else WT)], index, \
            f"${c.name(src)}$ is ${W}$ times ${c.name(t)}$ (plus terms without ${c.name(t)}$)."
    if k == "row_matrix":
        W = c.tex(s.factor)
        WT = transposed_latex(c.p.print(s.factor))
        Wn = s.factor.name if isinstance(s.factor, Var) else None
        index = [(c.adj_elem(t, "ij"),
                  r"\sum_k %s\, %s" % (c.adj_elem(src, "ik"), c.elem(Wn, "jk")) if Wn else ""),
                 (r"\Rightarrow " + c.adj(t), f"{g} {WT}")]
        return f"{g} {WT}", [], index, \
            (f"Each row of ${c.name(src)}$ is the matching row of ${c.name(t)}$ times ${W}$, so "
             f"$\\frac{{\\partial {c.elem(src, 'ik')}}}{{\\partial {c.elem(t, 'ij')}}} = "
             f"{c.elem(Wn, 'jk') if Wn else W}$.")
    if k in ("weight_outer", "weight_left", "weight_dot"):
        return _weight(c, s)
    if k == "slice":
        return c.tex(s.expr), [], [], (f"${c.name(src)}$ joins ${c.name(t)}$ with other blocks, so "
                                       f"${c.adj(t)}$ is the block of ${g}$ in ${c.name(t)}$'s position "
                                       "(the Jacobian selects those entries).")
    if k == "sum":
        from .latex_prose import explain
        return c.tex(s.expr), [], [], explain(c, s) or \
            f"${c.name(t)}$ was broadcast in ${c.name(src)}$, so its adjoint is summed."
    return c.tex(s.expr), [], [], _general_sentence(c, s)


def _softmax_axis(c: Context, src: str):
    from ..ir import Apply
    e = c.d.entry_definitions().get(src)
    return e.kw.get("axis") if isinstance(e, Apply) and e.op == "softmax" else None


def _general_sentence(c: Context, s: Step) -> str:
    """Words for a step without a named Jacobian pattern: a bias, a step through an
    inline activation, a normalisation, a reduction."""
    from ..ir import Apply, walk
    from .latex_prose import explain
    said = explain(c, s)
    if said:
        return said
    t, src = s.target, s.source
    e = s.expr
    words = []
    first = next((sub for sub in walk(e) if isinstance(sub, Apply) and sub.op == "first_extremum"), None)
    if first is not None:
        which = "minimum" if first.kw.get("lowest") else "maximum"
        along = "of all its entries" if first.kw.get("axis") is None else f"along axis {first.kw.get('axis')}"
        return (f"${c.name(src)}$ takes the {which} of ${c.name(t)}$ {along}: its derivative is 1 at the first "
                f"{which} and 0 elsewhere (ties go to the first, a convention like ReLU'(0) = 0), so the adjoint "
                "reaches that entry only.")
    d = c.d.entry_definitions().get(src)
    # an activation applied to an expression written inline: tanh(X W + b), not tanh(Z) of a named Z
    activation = isinstance(d, Apply) and RULES[d.op].family == "elementwise" and len(d.args) == 1 \
        and not isinstance(d.args[0], Var)
    inline = None if not activation else next(
        (sub for sub in walk(e) if isinstance(sub, Apply) and sub.op == "mul"
         and isinstance(sub.args[0], Var) and sub.args[0].role == "adjoint"
         and sub.args[0].name == naming.adjoint(src)), None)
    if inline is not None:
        words.append(f"${c.name(src)}$ applies an element-wise activation to a pre-activation $u$; by the "
                     f"element-wise rule the adjoint of $u$ is ${c.tex(inline)}$, the derivative of the "
                     "activation taken entry by entry.")
    if isinstance(e, Apply) and e.op in ("sum", "mean") and e.kw.get("axis") is not None and e.args[0].ndim == 2:
        axis = e.kw["axis"]
        lines = "row" if axis == 0 else "column"
        adds = [sub for sub in walk(d) if isinstance(sub, Apply) and sub.op == "add"
                and any(isinstance(a, Var) and a.name == t for a in sub.args)] if d is not None else []
        if adds:   # a bias: b is added to every row of X W (inline in tanh(X W + b): the pre-activation)
            into = f"${c.name(src)}$" if adds[0] is d else "the pre-activation"
            words.append(f"${c.name(t)}$ is added to every {lines} of {into} (broadcast over the "
                         f"{lines}s), so each entry of ${c.name(t)}$ collects the adjoints of all the entries it "
                         f"was added to: the sum over axis {axis}.")
        else:       # used in every row some other way (xhat = xc / sigma): each row passes its share back
            words.append(f"${c.name(t)}$ is used in every {lines} of ${c.name(src)}$ (broadcast over the "
                         f"{lines}s), so each entry of ${c.name(t)}$ collects what every {lines} passes back: "
                         f"the sum over axis {axis}.")
    elif isinstance(e, Apply) and e.op == "matmul" and isinstance(e.args[1], Apply) and e.args[1].op == "transpose":
        w = c.tex(e.args[1].args[0])
        words.append(f"The pre-activation is $u = {c.name(t)} {w}$: row $i$ of $u$ is row $i$ of "
                     f"${c.name(t)}$ times ${w}$, so $\\frac{{\\partial u_{{ik}}}}{{\\partial "
                     f"{c.elem(t, 'ij')}}} = {c.elem(w, 'jk') if isinstance(e.args[1].args[0], Var) else w + '_{jk}'}$ "
                     f"and the adjoint is that of $u$ times ${w}^\\top$.")
    elif isinstance(e, Apply) and e.op == "matmul" and isinstance(e.args[0], Apply) and e.args[0].op == "transpose":
        w = c.tex(e.args[0].args[0])
        words.append(f"The pre-activation is $u = {w} {c.name(t)}$, so the adjoint is ${w}^\\top$ times that of $u$.")
    if not words:
        defs = c.d.entry_definitions()
        definition = c.tex(defs[src]) if src in defs else c.name(src)
        words.append(f"Differentiating ${c.name(src)} = {definition}$ with respect to each entry of "
                     f"${c.name(t)}$ and applying the chain rule "
                     f"$\\frac{{\\partial {c.loss}}}{{\\partial t_j}} = \\sum_i "
                     f"\\frac{{\\partial {c.loss}}}{{\\partial s_i}} \\frac{{\\partial s_i}}{{\\partial t_j}}$ "
                     f"(with $s = {c.name(src)}$, $t = {c.name(t)}$) gives:")
    return " ".join(words)


def _weight(c: Context, s: Step):
    t, src = s.target, s.source
    g = c.adj(src)
    compound = not (s.upstream is None or (isinstance(s.upstream, Var) and s.upstream.role == "adjoint"))
    up_p = c.p.print(s.upstream) if compound else Printed(g)
    up = up_p.text
    x_p = c.p.print(s.factor)
    x = x_p.text
    # each factor of a product parenthesised by precedence: X^T (G \odot D), never X^T G \odot D
    up_left, up_right = wrap(up_p, MUL), wrap(up_p, MUL + 1)
    x_left, x_right, xT = wrap(x_p, MUL), wrap(x_p, MUL + 1), transposed_latex(x_p)
    xn = s.factor.name if isinstance(s.factor, Var) else None

    def up_elem(i):
        return c.adj_elem(src, i) if not compound else r"\left(%s\right)_{%s}" % (up, i)

    def x_elem(i):
        return c.elem(xn, i) if xn else r"\left(%s\right)_{%s}" % (x, i)

    note = "" if not compound else (f" Here ${up}$ is the adjoint of the pre-activation inside "
                                    f"${c.name(src)}$.")
    if s.kind == "weight_outer":
        index = [(r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(t, "ij")),
                  r"\sum_r %s \frac{\partial u_r}{\partial %s} = \sum_r %s\, \delta_{ri}\, %s = %s\, %s"
                  % (up_elem("r"), c.elem(t, "ij"), up_elem("r"), x_elem("j"), up_elem("i"), x_elem("j"))),
                 (r"\Rightarrow " + c.adj(t), f"{up_left} {xT}")]
        return f"{up_left} {xT}", [], index, \
            (f"The affine step $u = {c.name(t)} {x_right} + \\dots$ has "
             f"$\\frac{{\\partial u_r}}{{\\partial {c.elem(t, 'ij')}}}"
             f" = \\delta_{{ri}} {x_elem('j')}$." + note + " In index notation:")
    if s.kind == "weight_left":
        index = [(r"\frac{\partial %s}{\partial %s}" % (c.loss, c.elem(t, "jk")),
                  r"\sum_i %s\, %s" % (x_elem("ij"), up_elem("ik"))),
                 (r"\Rightarrow " + c.adj(t), f"{xT} {up_right}")]
        return f"{xT} {up_right}", [], index, \
            (f"Each column of $u = {x_left} {c.name(t)}$ is ${x_left}$ times the matching column of "
             f"${c.name(t)}$, so $\\frac{{\\partial u_{{ik}}}}{{\\partial {c.elem(t, 'jk')}}} = {x_elem('ij')}$." + note
             + " In index notation:")
    # weight_dot: a scalar times the factor
    if len(c.shape(t)):
        J = r"\frac{\partial %s}{\partial %s}" % (c.name(src), c.name(t))
        jac = [(J, xT if c.layout == "numerator" else x)]
        index = [(c.adj_elem(t, "j"), f"{up_left}\\, {x_elem('j')}"),
                 (r"\Rightarrow " + c.adj(t), f"{up_left} {x_right}")]
        return f"{up_left} {x_right}", jac, index, \
            f"${c.name(src)}$ is a scalar, linear in ${c.name(t)}$ with coefficients ${x}$."
    return f"{up_left} {x_right}", [], [], f"${c.name(src)}$ is ${c.name(t)}$ times ${x}$."


def _through(c: Context, s: Step, lhs: str) -> str:
    """lhs of an index-notation line, naming the path when the adjoint has several."""
    if not lhs.startswith(r"\Rightarrow"):
        return lhs
    return r"\Rightarrow \text{through } %s\text{:}\quad %s" % (c.name(s.source), lhs[len(r"\Rightarrow"):].strip())


def _jacobian_claim(c: Context, s: Step, jac: list) -> list:
    """The Jacobian a one-path step shows, stated as the adjoint it gives: (J)^T g."""
    J = r"\frac{\partial %s}{\partial %s}" % (c.name(s.source), c.name(s.target))
    g = c.adj(s.source)
    out = []
    for lhs, rhs in jac:
        if lhs != J or s.kind in ("identity", "negated", "scale"):
            continue   # an entry formula [J]_{ij}, or a multiple of the identity (I_n has no reading)
        if s.kind == "softmax":   # symmetric; diag(p) g - p (p^T g), the product distributed
            p = c.tex(s.factor)
            tex = r"\operatorname{diag}\left(%s\right) %s - %s %s^\top %s" % (p, g, p, p, g)
        elif s.kind == "diagonal" or c.layout != "numerator":   # a diagonal J is its own transpose
            tex = r"\left(%s\right) %s" % (rhs, g)
        else:
            tex = r"\left(%s\right)^\top %s" % (rhs, g)
        out.append(Claim(s.target, "adjoint", tex, f"{J} = {rhs}", expr=s.expr))
    return out


def chain_section(c: Context):
    steps = c.steps
    blocks = []
    for t in adjoint_targets(c.d):
        ss = steps[t]
        rows, jac_rows, index_rows, sentences = [], [], [], []
        lhs = c.adj(t)
        if len(ss) == 1 and ss[0].kind == "gradient":
            blocks.append(Block("text", text=f"The loss gives ${lhs}$ directly "
                                f"(${c.size(t)}$, shaped like ${c.name(t)}$):"))
            closed = fused_form(c, t, ss)
            if closed:
                blocks[-1] = Block("text", text=blocks[-1].text[:-1] + ". " + closed[1])
                expr = closed[2]
            else:
                expr = ss[0].factor
            rhs = c.tex(expr)
            blocks.append(Block("align", rows=[(lhs, rhs)], claims=[Claim(t, "adjoint", rhs, lhs, expr=expr)]))
            continue
        chain_terms, results, claims = [], [], []
        for s in ss:
            term, jac, index, sentence = _jacobian(c, s)
            if len(ss) > 1:
                # one path of several: its index argument gives that path's contribution only
                index = [(_through(c, s, left), rhs) for left, rhs in index]
            else:
                claims += _jacobian_claim(c, s, jac)
                claims += [Claim(t, "adjoint", rhs, lhs, expr=s.expr) for left, rhs in index
                           if left == r"\Rightarrow " + lhs]
            # a chain of equalities on one line runs off the page: one equality per line
            index = [(left if k == 0 else "", part) for left, rhs in index
                     for k, part in enumerate(rhs.split(" = "))]
            chain_terms.append(term)
            results.append(c.tex(s.expr))
            jac_rows += jac
            index_rows += index
            sentences.append(sentence)
        rows.append((lhs, " + ".join(chain_terms)))
        if not any(r"\frac{\partial %s}{\partial %s}" % (c.name(s.source), c.name(t)) in rows[-1][1] for s in ss):
            claims.append(Claim(t, "adjoint", rows[-1][1], lhs, expr=total(ss)))   # no Jacobian in it: a formula
        result = " + ".join(results)
        if result != rows[-1][1]:
            rows.append(("", result))
            claims.append(Claim(t, "adjoint", result, lhs, expr=total(ss)))
        inline = None
        fused = fused_form(c, t, ss) or (inline := inline_collapse(c, ss))
        if fused:
            rows.append(("", c.tex(fused[2])))
            claims.append(Claim(t, "adjoint", rows[-1][1], lhs, expr=fused[2]))
            if inline:   # said first: the index argument below is about the step before the collapse
                sentences.insert(0, fused[1])
            else:
                sentences.append(fused[1])
        unique = list(dict.fromkeys(sentences))   # a tied parameter may repeat a sentence
        sources = list(dict.fromkeys(s.source for s in ss))
        if len(sources) > 1 and len(unique) == len(ss):   # one sentence per path: each says which path it is
            paths = ", ".join(f"${c.name(x)}$" for x in sources[:-1]) + f" and ${c.name(sources[-1])}$"
            unique = [f"It reaches the loss through {paths}, and its adjoint is the sum of what each passes back."] \
                + [f"Through ${c.name(s.source)}$: " + _as_clause(sentence) for s, sentence in zip(ss, unique)]
        blocks.append(Block("text", text=f"Adjoint of ${c.name(t)}$ (${c.size(t)}$). " + " ".join(unique)))
        blocks.append(Block("align", rows=rows + jac_rows + index_rows, claims=claims))
    return blocks + _stable_forms(c)


def _as_clause(sentence: str) -> str:
    """A step's sentence inside a list of paths: the display comes after all of them, so a sentence
    that ended by pointing at it ("... gives:") ends with a full stop."""
    sentence = sentence.rstrip()
    if sentence.endswith(" gives:"):
        return sentence[:-1] + " this path's term."
    return sentence[:-1] + "." if sentence.endswith(":") else sentence


def _in_textbook_terms(c: Context, e):
    """e with every intermediate the fused graph made (the logit inside a fused sigmoid)
    replaced by its definition, so the note speaks of the net as written."""
    from ..rewrite import substitute
    spec = c.d.spec
    known = {*spec.inputs, *spec.params, *spec.nodes}
    mapping = {}
    for node in c.fused.graph.nodes:
        if node.name not in known:
            mapping[node.name] = substitute(node.expr, mapping)
    return substitute(e, mapping)


def _remember(shown: dict, p) -> str:
    shown[p.text] = p
    return p.text


def _plain(tex: str) -> str:
    """tex without spacing and sizing commands, to compare two spellings of one formula."""
    import re
    return re.sub(r"\\left|\\right|\\operatorname|\\,|[{}\s\\]", "", tex)


def _stable_forms(c: Context) -> list:
    """How the generated code evaluates the loss without overflow, as identities between
    different expressions (never a name equal to itself)."""
    from ..ir import Apply, walk
    rows = []
    for f in c.fusions:
        # a chain a = b = c; a side equal to the left side (log softmax(z) = ... = log softmax(z)) says nothing
        shown: dict = {}
        text = f.latex_with(lambda e, shown=shown: _remember(shown, c.p.print(_in_textbook_terms(c, e))))
        for arg, p in shown.items():   # the identity's "-x": a sum needs its brackets
            if p.prec <= ADD:
                text = text.replace("-" + arg, f"-({arg})")
        lhs, *sides = [p.strip() for p in text.split(" = ")]
        sides = [p for p in dict.fromkeys(sides) if _plain(p) != _plain(lhs)]
        if sides:
            rows.append((lhs, " = ".join(sides)))
    uses_log_softmax = any(isinstance(e, Apply) and e.op in ("log_softmax", "cross_entropy")
                           for n in c.d.graph.nodes for e in walk(n.expr))
    if uses_log_softmax:
        rows.append((r"\log \operatorname{softmax}(z)_i",
                     r"z_i - m - \log \sum_j e^{z_j - m}, \quad m = \max_j z_j"))
    if not rows:
        return []
    text = ("Numerically stable implementation. The formulas above are the mathematics; the generated "
            "code evaluates the loss with the identities below instead, which give the same numbers "
            "but never take the logarithm of a probability that rounded to 0 or 1, nor the exponential "
            "of a large logit (subtracting the row maximum $m$ leaves the softmax unchanged). "
            "The gradients are the ones derived above.")
    return [Block("text", text=text), Block("align", rows=rows)]
