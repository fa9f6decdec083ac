"""Network specs: the TOML format of DESIGN.md and the equivalent Python API.

A :class:`Spec` holds strings and shapes only; nothing is parsed or derived
here beyond validating names and shapes. Loading never executes anything from
the file: TOML is read with :mod:`tomllib` and expressions go to symgrad's own
parser later (graph.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import SpecError
from .escape import DisplayNameError, Untrusted, check_display_name, one_line
from .kinds import InputKind, read_input
from .names import GENERATED_MODULE_NAMES, is_python_identifier
from .sizes import SizeError, read_size
from .sizes import names_in as size_names

LOSS = "loss"
MAX_DESCRIPTION = 2000
MAX_DIMS = 4    # arrays up to 4-D (flatten or reshape them for @)
MAX_NAME = 64   # names become file names and identifiers in generated code


def _valid_name(name) -> bool:
    return isinstance(name, str) and len(name) <= MAX_NAME and is_python_identifier(name)


def reserved_names() -> frozenset:
    """Names a spec may not use for an input, parameter, node or size."""
    from .rules import callable_functions
    return frozenset(GENERATED_MODULE_NAMES | set(callable_functions()) | {"True", "False", "T"})


@dataclass
class Spec:
    """A network: inputs (data), params (differentiated), nodes, loss.

    Args:
        name: A Python identifier; names the generated module.
        inputs: name -> shape; a shape is a list of ints and size names ("n"). An entry may
            also be a table ``{shape = [...], kind = "label", classes = 3, grad = true}``
            (:mod:`symgrad.kinds`); after validation ``inputs`` holds shapes only and
            ``kinds`` what each input holds.
        params: name -> shape, as for inputs.
        nodes: name -> expression, in order; each may use earlier names.
        loss: A scalar expression over the names above.
        description: One line for ``symgrad list`` and documents.
        latex: Optional display names, name -> LaTeX.
        source: Where the spec came from (a path, or "<python>").
    """

    name: str
    inputs: dict
    params: dict
    nodes: dict
    loss: str
    description: str = ""
    latex: dict = field(default_factory=dict)
    source: str = "<python>"
    kinds: dict = field(default_factory=dict)   # input name -> InputKind (filled by validate)
    gradients: list | None = None   # adjoints the module returns (None: every parameter)
    fused: dict = field(default_factory=dict)   # target -> the adjoint its one-formula view starts from

    def __post_init__(self):
        self.validate()

    def error(self, message: str, node: str | None = None, expr: str | None = None) -> SpecError:
        return SpecError(message, source=self.source, node=node, expr=expr)

    def validate(self) -> None:
        """Check names and shapes; raise SpecError naming the first problem."""
        if not _valid_name(self.name):
            raise self.error(f"spec name {self.name!r} is not a valid Python identifier of at most "
                             f"{MAX_NAME} characters", node="name")
        if not isinstance(self.description, str):
            raise self.error("description must be a string", node="description")
        if len(self.description) > MAX_DESCRIPTION:
            raise self.error(f"description is longer than {MAX_DESCRIPTION} characters", node="description")
        # Free text: printed only through symgrad.escape (a template refuses it bare).
        self.description = Untrusted(self.description)
        self.source = Untrusted(self.source)
        reserved = reserved_names()
        seen: dict[str, str] = {}
        self._read_kinds()
        for table in ("inputs", "params", "nodes"):
            entries = getattr(self, table)
            if not isinstance(entries, dict):
                raise self.error(f"[{table}] must be a table of name = value", node=table)
            for name, value in entries.items():
                self._check_name(name, table, reserved, seen)
                if table == "nodes":
                    if not isinstance(value, str):
                        raise self.error(f"node {name!r} must be an expression string, got "
                                         f"{type(value).__name__}", node=name)
                else:
                    self._check_shape(name, value)
        self._check_bounds()
        self._check_gradients(seen)
        self._check_fused(seen)
        if not self.params:
            raise self.error("[params] is empty: there is nothing to differentiate", node="params")
        if not isinstance(self.loss, str):
            raise self.error("[loss] expr must be an expression string", node=LOSS)
        for name, text in self.latex.items():
            if name not in seen and name != LOSS:
                raise self.error(f"[latex] names {name!r}, which is not an input, parameter or node",
                                 node="latex")
            if not isinstance(text, str):
                raise self.error(f"[latex] entry {name!r} must be a string", node="latex")
            try:
                check_display_name(text, field=f"latex.{name}", source=self.source)
            except DisplayNameError as exc:
                raise SpecError(str(exc), source=exc.source, node=exc.field) from None

    def _read_kinds(self) -> None:
        """Split table-valued inputs into a shape and an :class:`~symgrad.kinds.InputKind`."""
        if not isinstance(self.inputs, dict):
            return   # reported below
        shapes, kinds = {}, dict(self.kinds)
        for name, value in self.inputs.items():
            if isinstance(value, InputKind):
                raise self.error(f"input {name!r}: give a shape or a table, not an InputKind", node=name)

            def error(message, field_name, _name=name):
                return self.error(message, node=f"inputs.{_name}.{field_name}")
            shape, kind = read_input(str(name), value, error)
            shapes[name] = shape
            kinds[name] = kind if isinstance(value, dict) else kinds.get(name, kind)
        self.inputs = shapes
        self.kinds = {n: kinds.get(n, InputKind()) for n in shapes}

    def _check_gradients(self, seen: dict) -> None:
        if self.gradients is None:
            return
        if not isinstance(self.gradients, (list, tuple)) or not all(isinstance(g, str) for g in self.gradients):
            raise self.error("gradients must be a list of names, such as [\"W1\", \"X\", \"H1\"]", node="gradients")
        for g in self.gradients:
            if g not in seen:
                raise self.error(f"gradients lists {one_line(g, 40)!r}, which is not a parameter, input or node",
                                 node="gradients")
            if g in self.kinds and self.kinds[g].integer:
                raise self.error(f"gradients lists {g!r}, which holds integers ({self.kinds[g].describe()}) and "
                                 "is never differentiated", node="gradients")
        if len(set(self.gradients)) != len(self.gradients):
            raise self.error("gradients lists a name twice", node="gradients")

    def _check_fused(self, seen: dict) -> None:
        """[fused]: target = "node" (or "loss"): dL/dtarget in one formula from dL/dnode."""
        if not isinstance(self.fused, dict):
            raise self.error("[fused] must be a table of target = \"node\"", node="fused")
        for target, start in self.fused.items():
            if target not in self.params and target not in self.nodes:
                raise self.error(f"[fused] names {one_line(str(target), 40)!r}, which is not a parameter or node",
                                 node="fused")
            if not isinstance(start, str) or (start not in self.nodes and start != LOSS):
                raise self.error(f"[fused] {target} = {one_line(str(start), 40)!r}: give a node it flows into, "
                                 f"or \"{LOSS}\"", node="fused")

    @property
    def extra_gradients(self) -> list[str]:
        """The inputs and nodes whose adjoints the module returns besides every parameter's:
        ``gradients`` in its order, then the inputs declared with ``grad = true``."""
        listed = [g for g in (self.gradients or []) if g not in self.params]
        return listed + [n for n, k in self.kinds.items() if k.grad and n not in listed]

    def _check_bounds(self) -> None:
        """A label's classes, an index's size and every name in a size expression ("3*E") must be a
        size some shape declares on its own (so it can be read from that array at run time)."""
        declared = {d for table in (self.inputs, self.params) for shape in table.values()
                    for d in shape if isinstance(d, str) and is_python_identifier(d)}
        for table in (self.inputs, self.params):
            for name, shape in table.items():
                for d in shape:
                    if isinstance(d, str) and not is_python_identifier(d):
                        missing = sorted(size_names(read_size(d)) - declared)
                        if missing:
                            raise self.error(f"size {missing[0]!r} in {d!r} (shape of {name!r}) is not a dimension "
                                             "on its own in any shape, so its value cannot be read at run time",
                                             node=name)
        for name, kind in self.kinds.items():
            if isinstance(kind.bound, str) and kind.bound not in declared:
                field_name = "classes" if kind.kind == "label" else "size"
                raise self.error(f"input {name!r}: {field_name} = {kind.bound!r} is not a size any shape "
                                 f"declares (sizes: {', '.join(sorted(declared)) or 'none'})",
                                 node=f"inputs.{name}.{field_name}")

    def _check_name(self, name, table, reserved, seen):
        if not _valid_name(name):
            raise self.error(f"{name!r} in [{table}] is not a valid identifier (letters, digits and _, not "
                             f"starting with a digit, not a keyword, at most {MAX_NAME} characters)",
                             node=one_line(name, 40))
        if name.startswith("_"):
            raise self.error(f"{name!r} in [{table}] starts with '_', which symgrad keeps for itself", node=name)
        if name.startswith("d_"):
            raise self.error(f"{name!r} in [{table}] starts with 'd_', which names adjoints in generated code",
                             node=name)
        if name in reserved or name == LOSS:
            raise self.error(f"{name!r} in [{table}] is a reserved name (a function or a name the "
                             "generated module uses); choose another", node=name)
        if name in seen:
            raise self.error(f"{name!r} is declared twice (in [{seen[name]}] and [{table}])", node=name)
        seen[name] = table

    def _check_shape(self, name, shape):
        if not isinstance(shape, (list, tuple)):
            raise self.error(f"shape of {name!r} must be a list such as [3] or [\"n\", 4], got {shape!r}",
                             node=name)
        if len(shape) > MAX_DIMS:
            raise self.error(f"shape of {name!r} has {len(shape)} dimensions; symgrad supports at most {MAX_DIMS}",
                             node=name)
        for d in shape:
            if isinstance(d, bool) or not isinstance(d, (int, str)):
                raise self.error(f"dimension {d!r} of {name!r} must be a positive integer or a size name",
                                 node=name)
            if isinstance(d, int) and not 1 <= d <= 1_000_000:
                raise self.error(f"dimension {d} of {name!r} must be between 1 and 1000000", node=name)
            if isinstance(d, str):
                try:
                    read_size(d)
                except SizeError as exc:
                    raise self.error(f"shape of {name!r}: {exc}", node=name) from None
                if len(d) > MAX_NAME * 4:
                    raise self.error(f"size {d[:20]!r}... of {name!r} is too long", node=name)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<python>") -> "Spec":
        """Build a spec from the parsed TOML tables."""
        def table(key, default=None):
            value = data.get(key, default)
            if value is None:
                raise SpecError(f"missing [{key}] table", source=source, node=key)
            if not isinstance(value, dict):
                raise SpecError(f"[{key}] must be a table", source=source, node=key)
            return value

        known = {"name", "description", "inputs", "params", "nodes", "loss", "latex", "gradients", "fused"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}",
                            source=source)
        if "name" not in data:
            raise SpecError("missing 'name'", source=source, node="name")
        loss = table("loss")
        if set(loss) != {"expr"}:
            raise SpecError("[loss] must hold exactly one key, expr = \"...\"", source=source, node=LOSS)
        return cls(name=data["name"], description=data.get("description", ""),
                   inputs=table("inputs", {}), params=table("params"), nodes=table("nodes", {}),
                   loss=loss["expr"], latex=table("latex", {}), gradients=data.get("gradients"),
                   fused=table("fused", {}), source=source)


def bundled_dir():
    return resources.files("symgrad") / "specs"


def bundled_names() -> list[str]:
    return sorted(p.name[:-5] for p in bundled_dir().iterdir() if p.name.endswith(".toml"))


def course_spec_names() -> list[str]:
    """Specs bundled for a course profile (specs/courses/): loaded by name, not listed with the
    bundled specs, because they use labels and input gradients that not every generic path reads yet."""
    folder = bundled_dir() / "courses"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")) if folder.is_dir() else []


def load_spec(spec: "str | Path | Spec") -> Spec:
    """A Spec from a path, a bundled spec's name, or a Spec (returned as is).

    Raises:
        SpecError: unreadable file, TOML syntax error, or an invalid spec.
    """
    if isinstance(spec, Spec):
        return spec
    text_arg = str(spec)
    path = Path(text_arg)
    try:
        is_path = path.suffix == ".toml" or path.exists() or "/" in text_arg
        is_file = is_path and path.is_file()
    except (OSError, ValueError) as exc:   # a name too long, a NUL byte
        raise SpecError(f"not a usable file name ({getattr(exc, 'strerror', None) or exc})",
                        source=text_arg[:200]) from None
    if is_path:
        if not is_file:
            raise SpecError("no such spec file", source=text_arg)
        source = text_arg
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read the file: {exc.strerror}", source=source) from None
    elif text_arg in bundled_names():
        source = f"{text_arg} (bundled)"
        raw = (bundled_dir() / f"{text_arg}.toml").read_bytes()
    elif text_arg in course_spec_names():
        source = f"{text_arg} (bundled for a course)"
        raw = (bundled_dir() / "courses" / f"{text_arg}.toml").read_bytes()
    else:
        names = ", ".join(bundled_names())
        raise SpecError(f"no spec file or bundled spec named {text_arg!r}; bundled specs: {names}",
                        source=text_arg)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError("file is not UTF-8 text", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"TOML syntax error: {exc}", source=source) from None
    return Spec.from_dict(data, source=source)
