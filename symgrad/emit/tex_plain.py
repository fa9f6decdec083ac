"""LaTeX math as plain Unicode text: the graph figure's labels, and the answer key's estimate of how
wide a table cell prints. Pure string work, importing nothing of symgrad."""

import re

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
          "lambda": "λ", "mu": "μ", "sigma": "σ", "tau": "τ", "phi": "φ", "ell": "ℓ", "odot": "⊙",
          "top": "ᵀ", "cdot": "·", "times": "×", "sum": "Σ", "partial": "∂", "quad": " ", "le": "≤", "ge": "≥"}
#: every subscript letter Unicode has (no c, b, d...: v_c stays as it is)
_SUB_LETTERS = "aehijklmnoprstuvx"
_SUB = str.maketrans("0123456789+-()" + _SUB_LETTERS, "₀₁₂₃₄₅₆₇₈₉₊₋₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿ")


_ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "dot": "\u0307", "ddot": "\u0308"}
_INNER = r"([^{}]*)"   # a group with no braces inside: wrappers are removed innermost first


def tex_label(tex: str) -> str:
    """LaTeX math as plain Unicode text for a graph label: W_{1} -> W₁, \\hat{y} -> ŷ, H^{2} -> H²,
    \\frac{\\mathrm{xc}}{\\sigma} -> xc/σ, \\bar{o} -> ō."""
    t = tex
    t = re.sub(r"\\[,;]", " ", t).replace("\\_", "_")
    t = re.sub(r"\\(?:left|right|big|Big|!)", "", t)
    t = re.sub(r"\\begin\{[a-z]*matrix\}", "[", t)
    t = re.sub(r"\\end\{[a-z]*matrix\}", "]", t).replace("&", ",")
    t = re.sub(r"\\(" + "|".join(_GREEK) + r")(?![A-Za-z])", lambda m: _GREEK[m.group(1)], t)
    # fonts and wrappers (\vec too: a vector's name shows plain) are dropped with their braces
    for _ in range(8):   # nested groups (\frac{\mathrm{a}}{\hat{b}}) come undone from the inside out
        before = t
        t = re.sub(r"\\(?:mathbf|boldsymbol|mathrm|operatorname|vec|mathcal|mathit|text)\{" + _INNER + r"\}", r"\1", t)
        t = re.sub(r"\\(" + "|".join(_ACCENTS) + r")\{\s*(\\[A-Za-z]+|\w)\s*\}",
                   lambda m: m.group(2).lstrip("\\") + _ACCENTS[m.group(1)], t)
        t = re.sub(r"\\sqrt\{" + _INNER + r"\}", lambda m: "√" + (m.group(1) if len(m.group(1)) == 1
                                                                   else f"({m.group(1)})"), t)
        t = re.sub(r"\\frac\{" + _INNER + r"\}\{" + _INNER + r"\}",
                   lambda m: "/".join(p if re.fullmatch(r"[\w.\u0300-\u036f]+", p) or len(p) == 1
                                      else f"({p})" for p in m.groups()), t)
        if t == before:
            break
    t = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m.group(1), m.group(1)), t)
    t = re.sub(r"_\{([0-9+\-()" + _SUB_LETTERS + r"]+)\}|_([0-9" + _SUB_LETTERS + r"])(?![A-Za-z])",
               lambda m: (m.group(1) or m.group(2)).translate(_SUB), t)
    t = re.sub(r"\^\{([0-9+\-()n]+)\}|\^([0-9n])", lambda m: (m.group(1) or m.group(2)).translate(_SUP), t)
    t = t.replace("^ᵀ", "ᵀ").replace("^{ᵀ}", "ᵀ")
    t = re.sub(r"\^\{([^{}]*)\}", lambda m: "^(" + m.group(1).replace(" ", "") + ")", t)
    t = re.sub(r"[{}]", "", t)
    return re.sub(r"\s+", " ", t).strip()
