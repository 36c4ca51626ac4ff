"""A small Helm renderer for testing the meshboard chart where no `helm` binary exists.

It implements the subset of Go `text/template` + Helm/sprig that the chart uses, and fails
loudly (``TemplateError``) on anything else, so a template that strays outside the subset
breaks the tests instead of rendering silently wrong:

* actions with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``;
* ``if``/``else if``/``else``, ``range`` (lists, and maps in sorted key order, optional
  ``$i, $v :=``), ``with``/``else``, ``define``, variables (``$x := …``, ``$x = …``, ``$``);
* pipelines with ``|``, parenthesised sub-pipelines and field chains (``(first .l).host``);
* functions: include, toYaml, fromYaml, nindent, indent, quote, default, printf, trunc,
  trimSuffix, contains, replace, join, first, index, int, toString, sha256sum, required,
  eq, ne, and, or, not.

Helm behaviours reproduced on purpose: values are validated against ``values.schema.json``
before rendering; numbers read from values files are float64 (so ``{{ 31536000.0 }}`` prints
``3.1536e+07`` as in Helm, which is why the chart pipes big integers through ``int``); a
missing map key renders as an empty string; ``toYaml`` sorts keys and drops the final newline.
"""

from __future__ import annotations

import copy
import decimal
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class TemplateError(Exception):
    pass


# --- values ------------------------------------------------------------------------------------


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing: maps merge recursively, anything else replaces, null deletes."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_values(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def as_helm_numbers(value: Any) -> Any:
    """Values files go through YAML -> JSON in Helm, so every number is a float64."""
    if isinstance(value, dict):
        return {k: as_helm_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_helm_numbers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _plain_numbers(value: Any) -> Any:
    """What sigs.k8s.io/yaml does on output: integral floats come back as integers."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- printing like Go's fmt %v -----------------------------------------------------------------


def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64), which is what %v prints for a float64."""
    if f != f or f in (float("inf"), float("-inf")):
        raise TemplateError(f"cannot print {f}")
    if f == 0:
        return "0"
    sign, digits, exponent = decimal.Decimal(repr(abs(f))).normalize().as_tuple()
    assert isinstance(exponent, int)
    ds = "".join(map(str, digits))
    exp10 = len(ds) + exponent - 1
    neg = "-" if f < 0 else ""
    if exp10 < -4 or exp10 >= 6:  # shortest precision: Go uses 6 for the %e decision
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    point = exp10 + 1
    if point <= 0:
        return f"{neg}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return neg + ds + "0" * (point - len(ds))
    return f"{neg}{ds[:point]}.{ds[point:]}"


def to_str(v: Any) -> str:
    if v is None:
        return ""  # Helm renders "<no value>" and then strips it
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, int | str):
        return str(v)
    raise TemplateError(f"refusing to print a {type(v).__name__} ({v!r}); use toYaml")


def truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, int | float | str | list | dict):
        return bool(v)
    return True


def go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


# --- functions ---------------------------------------------------------------------------------


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        try:
            arg = next(it)
        except StopIteration:
            raise TemplateError(f"printf {fmt!r}: too few arguments") from None
        if verb in "sv":
            return to_str(arg)
        if verb == "d":
            if not isinstance(arg, int) or isinstance(arg, bool):
                raise TemplateError(f"printf %d of {arg!r} (a float64 from values? use int)")
            return str(arg)
        return go_quote(to_str(arg))  # q

    out = re.sub(r"%([svdq%])", sub, fmt)
    if next(it, None) is not None:
        raise TemplateError(f"printf {fmt!r}: too many arguments")
    return out


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return 0
    return 0


def _trunc(n: int, s: str) -> str:
    if n < 0:
        return s[len(s) + n :] if len(s) + n > 0 else s
    return s[:n]


def _indent(n: int, s: str) -> str:
    pad = " " * n
    return pad + s.replace("\n", "\n" + pad)


def _to_yaml(v: Any) -> str:
    if v is None:
        return "null"
    text = yaml.safe_dump(
        _plain_numbers(v), default_flow_style=False, sort_keys=True, allow_unicode=True, width=4096
    )
    return text.removesuffix("\n").removesuffix("\n...")


def _eq(a: Any, *bs: Any) -> bool:
    def kind(x: Any) -> str:
        if isinstance(x, bool):
            return "bool"
        if isinstance(x, int):
            return "int"
        if isinstance(x, float):
            return "float"
        if isinstance(x, str):
            return "string"
        if x is None:
            return "nil"
        raise TemplateError(f"eq on a non-basic value {x!r}")

    for b in bs:
        if kind(a) != kind(b) and "nil" not in (kind(a), kind(b)):
            raise TemplateError(f"incompatible types for comparison: {a!r} and {b!r}")
        if a == b:
            return True
    return False


def _and(*args: Any) -> Any:
    for a in args:
        if not truthy(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truthy(a):
            return a
    return args[-1]


def _index(coll: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(coll, list):
            if not isinstance(k, int) or not 0 <= k < len(coll):
                raise TemplateError(f"index {k!r} out of range")
            coll = coll[k]
        elif isinstance(coll, dict):
            coll = coll.get(k)
        else:
            raise TemplateError(f"cannot index {coll!r}")
    return coll


def _required(msg: str, v: Any) -> Any:
    if v is None or v == "":
        raise TemplateError(msg)
    return v


FUNCS: dict[str, Callable[..., Any]] = {
    "toYaml": _to_yaml,
    "fromYaml": lambda s: as_helm_numbers(yaml.safe_load(s) or {}),
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "indent": _indent,
    "quote": lambda *a: " ".join(go_quote(to_str(x)) for x in a if x is not None),
    "default": lambda d, v=None: v if truthy(v) else d,
    "printf": _printf,
    "trunc": _trunc,
    "trimSuffix": lambda suffix, s: s.removesuffix(suffix),
    "contains": lambda sub, s: sub in s,
    "replace": lambda old, new, s: s.replace(old, new),
    "join": lambda sep, items: sep.join(to_str(x) for x in (items or [])),
    "first": lambda items: items[0] if items else None,
    "index": _index,
    "int": _to_int,
    "toString": to_str,
    "sha256sum": lambda s: hashlib.sha256(s.encode()).hexdigest(),
    "required": _required,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "and": _and,
    "or": _or,
    "not": lambda v: not truthy(v),
}


# --- lexing ------------------------------------------------------------------------------------


@dataclass
class Text:
    text: str


@dataclass
class Action:
    body: str
    line: int


def split_source(src: str) -> list[Text | Action]:
    """Split into text and actions, applying `{{-` / `-}}` trimming and dropping comments."""
    parts: list[Text | Action] = []
    pos = 0
    rtrim_next = False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        if rtrim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            parts.append(Text(text))
            return parts
        i = start + 2
        ltrim = src.startswith("- ", i) or src.startswith("-\n", i)
        if ltrim:
            text = text.rstrip(" \t\r\n")
            i += 2
        parts.append(Text(text))
        line = src.count("\n", 0, start) + 1
        j = i
        while j < len(src) and src[j] in " \t\r\n":
            j += 1
        if src.startswith("/*", j):
            close = src.find("*/", j)
            if close < 0:
                raise TemplateError(f"line {line}: unclosed comment")
            end = src.find("}}", close)
            body, is_comment = "", True
        else:
            end, quote = j, ""
            while end < len(src):
                c = src[end]
                if quote:
                    if c == "\\" and quote == '"':
                        end += 1
                    elif c == quote:
                        quote = ""
                elif c in '"`':
                    quote = c
                elif src.startswith("}}", end):
                    break
                end += 1
            body, is_comment = src[i:end], False
        if end < 0 or end >= len(src):
            raise TemplateError(f"line {line}: unclosed action")
        inner = src[i:end]
        rtrim_next = inner.endswith((" -", "\n-", "\t-"))
        if rtrim_next and not is_comment:
            body = body[:-2]
        if not is_comment:
            parts.append(Action(body.strip(), line))
        pos = end + 2


TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<punct>[()|,])
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def tokenize(body: str, line: int) -> list[tuple[str, Any]]:
    toks: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        m = TOKEN.match(body, pos)
        if not m:
            raise TemplateError(f"line {line}: cannot parse {body[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        val = m.group(kind)
        attached = m.start(kind) == pos  # no whitespace before this token
        if kind == "str":
            toks.append(("lit", json.loads(val)))
        elif kind == "raw":
            toks.append(("lit", val[1:-1]))
        elif kind == "num":
            toks.append(("lit", float(val) if "." in val else int(val)))
        elif kind == "field":
            names = [n for n in val.split(".") if n]
            if toks and toks[-1] == ("punct", ")") and attached:
                toks.append(("chain", names))
            else:
                toks.append(("field", names))
        elif kind == "var":
            name, *names = val.split(".")
            toks.append(("var", (name, names)))
        elif kind == "ident":
            lit = {"true": True, "false": False, "nil": None}
            toks.append(("lit", lit[val]) if val in lit else ("ident", val))
        else:
            toks.append((kind, val))
        pos = m.end()
    return toks


# --- parsing -----------------------------------------------------------------------------------


@dataclass
class Pipeline:
    decl: list[str]
    op: str  # ":=", "=" or ""
    cmds: list[list[Any]]


@dataclass
class Node:
    kind: str  # text, action, if, range, with
    text: str = ""
    pipe: Pipeline | None = None
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break"}


def parse_pipeline(toks: list[tuple[str, Any]], line: int) -> Pipeline:
    decl: list[str] = []
    op = ""
    pos = 0
    # `$a :=`, `$a =` or `$i, $v :=`
    probe = 0
    names = []
    while probe < len(toks) and toks[probe][0] == "var" and not toks[probe][1][1]:
        names.append(toks[probe][1][0])
        probe += 1
        if probe < len(toks) and toks[probe] == ("punct", ","):
            probe += 1
            continue
        break
    if names and probe < len(toks) and toks[probe][0] in ("decl", "assign"):
        decl, op, pos = names, toks[probe][1], probe + 1

    def operand(p: int) -> tuple[Any, int]:
        kind, val = toks[p]
        if kind == "punct" and val == "(":
            depth, q = 1, p + 1
            while q < len(toks) and depth:
                if toks[q] == ("punct", "("):
                    depth += 1
                elif toks[q] == ("punct", ")"):
                    depth -= 1
                q += 1
            if depth:
                raise TemplateError(f"line {line}: unbalanced parentheses")
            inner = parse_pipeline(toks[p + 1 : q - 1], line)
            chain: list[str] = []
            if q < len(toks) and toks[q][0] == "chain":
                chain = toks[q][1]
                q += 1
            return ("paren", inner, chain), q
        if kind in ("lit", "field", "var", "ident"):
            return (kind, val), p + 1
        raise TemplateError(f"line {line}: unexpected {val!r}")

    cmds: list[list[Any]] = [[]]
    while pos < len(toks):
        if toks[pos] == ("punct", "|"):
            if not cmds[-1]:
                raise TemplateError(f"line {line}: empty command before |")
            cmds.append([])
            pos += 1
            continue
        op_, pos = operand(pos)
        cmds[-1].append(op_)
    if not cmds[-1]:
        raise TemplateError(f"line {line}: empty pipeline")
    return Pipeline(decl, op, cmds)


def parse(src: str, defines: dict[str, list[Node]]) -> list[Node]:
    root: list[Node] = []
    # stack of (node or define-name, list being filled)
    stack: list[tuple[Any, list[Node]]] = [(None, root)]
    for part in split_source(src):
        current = stack[-1][1]
        if isinstance(part, Text):
            if part.text:
                current.append(Node("text", text=part.text))
            continue
        toks = tokenize(part.body, part.line)
        if not toks:
            raise TemplateError(f"line {part.line}: empty action")
        head = toks[0][1] if toks[0][0] == "ident" and toks[0][1] in KEYWORDS else None
        if head in ("if", "range", "with"):
            node = Node(head, pipe=parse_pipeline(toks[1:], part.line))
            current.append(node)
            stack.append((node, node.body))
        elif head == "define":
            if len(toks) != 2 or toks[1][0] != "lit":
                raise TemplateError(f"line {part.line}: define needs a name")
            body: list[Node] = []
            defines[toks[1][1]] = body
            stack.append((("define", toks[1][1]), body))
        elif head == "else":
            owner = stack[-1][0]
            if not isinstance(owner, Node) or owner.kind not in ("if", "range", "with"):
                raise TemplateError(f"line {part.line}: else outside if/range/with")
            stack.pop()
            if len(toks) > 1 and toks[1] == ("ident", "if") and owner.kind == "if":
                chained = Node("if", pipe=parse_pipeline(toks[2:], part.line))
                owner.orelse.append(chained)
                # `end` closes the whole chain: remember the outer owner
                stack.append((Node("elif-marker", body=[owner]), []))
                stack.append((chained, chained.body))
            elif len(toks) == 1:
                stack.append((Node("else-marker", body=[owner]), owner.orelse))
            else:
                raise TemplateError(f"line {part.line}: unsupported else form")
        elif head == "end":
            if len(stack) == 1:
                raise TemplateError(f"line {part.line}: unexpected end")
            stack.pop()
            while isinstance(stack[-1][0], Node) and stack[-1][0].kind == "elif-marker":
                stack.pop()
        elif head is not None:
            raise TemplateError(f"line {part.line}: unsupported keyword {head!r}")
        else:
            current.append(Node("action", pipe=parse_pipeline(toks, part.line)))
    if len(stack) != 1:
        raise TemplateError("missing {{ end }}")
    return root


# --- evaluation --------------------------------------------------------------------------------


class Scope:
    def __init__(self, root: Any) -> None:
        self.frames: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        raise TemplateError(f"undefined variable {name}")

    def set(self, name: str, value: Any) -> None:
        for frame in reversed(self.frames):
            if name in frame:
                frame[name] = value
                return
        raise TemplateError(f"assignment to undeclared variable {name}")


def walk_fields(value: Any, names: list[str], what: str) -> Any:
    for name in names:
        if value is None:
            raise TemplateError(f"nil pointer evaluating {what}.{name}")
        if not isinstance(value, dict):
            raise TemplateError(f"can't evaluate field {name} in {type(value).__name__}")
        value = value.get(name)
        what += "." + name
    return value


class Engine:
    def __init__(self, defines: dict[str, list[Node]]) -> None:
        self.defines = defines
        self.funcs = dict(FUNCS, include=self.include)

    def include(self, name: str, data: Any) -> str:
        if name not in self.defines:
            raise TemplateError(f"include of undefined template {name!r}")
        return self.execute(self.defines[name], data)

    def execute(self, nodes: list[Node], dot: Any) -> str:
        out: list[str] = []
        self.run(nodes, dot, Scope(dot), out)
        return "".join(out)

    def run(self, nodes: list[Node], dot: Any, scope: Scope, out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                assert node.pipe is not None
                value = self.pipeline(node.pipe, dot, scope)
                if not node.pipe.decl:
                    out.append(to_str(value))
            elif node.kind == "if":
                assert node.pipe is not None
                branch = node.body if truthy(self.pipeline(node.pipe, dot, scope)) else node.orelse
                self.block(branch, dot, scope, out)
            elif node.kind == "with":
                assert node.pipe is not None
                value = self.pipeline(node.pipe, dot, scope)
                if truthy(value):
                    self.block(node.body, value, scope, out)
                else:
                    self.block(node.orelse, dot, scope, out)
            elif node.kind == "range":
                self.range(node, dot, scope, out)

    def block(self, nodes: list[Node], dot: Any, scope: Scope, out: list[str]) -> None:
        scope.frames.append({})
        try:
            self.run(nodes, dot, scope, out)
        finally:
            scope.frames.pop()

    def range(self, node: Node, dot: Any, scope: Scope, out: list[str]) -> None:
        assert node.pipe is not None
        pipe = Pipeline([], "", node.pipe.cmds)
        coll = self.pipeline(pipe, dot, scope)
        if coll is None:
            items: list[tuple[Any, Any]] = []
        elif isinstance(coll, list):
            items = list(enumerate(coll))
        elif isinstance(coll, dict):
            items = sorted(coll.items())
        else:
            raise TemplateError(f"range can't iterate over {coll!r}")
        if not items:
            self.block(node.orelse, dot, scope, out)
            return
        for key, elem in items:
            frame: dict[str, Any] = {}
            if len(node.pipe.decl) == 1:
                frame[node.pipe.decl[0]] = elem
            elif len(node.pipe.decl) == 2:
                frame[node.pipe.decl[0]], frame[node.pipe.decl[1]] = key, elem
            scope.frames.append(frame)
            try:
                self.block(node.body, elem, scope, out)
            finally:
                scope.frames.pop()

    def pipeline(self, pipe: Pipeline, dot: Any, scope: Scope) -> Any:
        value: Any = None
        for i, cmd in enumerate(pipe.cmds):
            value = self.command(cmd, dot, scope, piped=i > 0, prev=value)
        if pipe.op == ":=":
            if len(pipe.decl) != 1:
                raise TemplateError("two-variable declaration outside range")
            scope.frames[-1][pipe.decl[0]] = value
        elif pipe.op == "=":
            scope.set(pipe.decl[0], value)
        return value

    def command(self, cmd: list[Any], dot: Any, scope: Scope, piped: bool, prev: Any) -> Any:
        head = cmd[0]
        if head[0] == "ident":
            name = head[1]
            if name not in self.funcs:
                raise TemplateError(f"function {name!r} not supported by this renderer")
            args = [self.operand(a, dot, scope) for a in cmd[1:]]
            if piped:
                args.append(prev)
            try:
                return self.funcs[name](*args)
            except TypeError as exc:
                raise TemplateError(f"{name}: {exc}") from exc
        if len(cmd) > 1 or piped:
            raise TemplateError(f"can't give arguments to non-function {head!r}")
        return self.operand(head, dot, scope)

    def operand(self, op: Any, dot: Any, scope: Scope) -> Any:
        kind = op[0]
        if kind == "lit":
            return op[1]
        if kind == "field":
            return walk_fields(dot, op[1], "<.>")
        if kind == "var":
            name, names = op[1]
            return walk_fields(scope.get(name), names, name)
        if kind == "paren":
            return walk_fields(self.pipeline(op[1], dot, scope), op[2], "(…)")
        if kind == "ident":  # a function called without arguments
            return self.command([op], dot, scope, piped=False, prev=None)
        raise TemplateError(f"bad operand {op!r}")


# --- chart -------------------------------------------------------------------------------------


@dataclass
class Rendered:
    files: dict[str, str]  # template path -> rendered text
    notes: str
    values: dict[str, Any]

    @property
    def manifests(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for name, text in sorted(self.files.items()):
            for chunk in re.split(r"(?m)^---\s*$", text):
                try:
                    doc = yaml.safe_load(chunk)
                except yaml.YAMLError as exc:
                    raise TemplateError(f"{name} renders invalid YAML: {exc}\n{chunk}") from exc
                if doc:
                    docs.append(doc)
        return docs


def render_chart(
    chart_dir: Path,
    values: dict[str, Any] | None = None,
    release_name: str = "meshboard",
    namespace: str = "meshboard",
) -> Rendered:
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    merged = merge_values(defaults, values or {})
    schema_file = chart_dir / "values.schema.json"
    if schema_file.is_file():
        jsonschema.Draft7Validator(json.loads(schema_file.read_text())).validate(merged)

    tdir = chart_dir / "templates"
    defines: dict[str, list[Node]] = {}
    trees: dict[str, list[Node]] = {}
    for path in sorted(tdir.iterdir()):
        tree = parse(path.read_text(), defines)
        if not path.name.startswith("_"):
            trees[path.name] = tree

    ctx = {
        "Values": as_helm_numbers(merged),
        "Chart": {
            "Name": chart["name"],
            "Version": chart["version"],
            "AppVersion": chart.get("appVersion", ""),
        },
        "Release": {
            "Name": release_name,
            "Namespace": namespace,
            "Service": "Helm",
            "IsInstall": True,
            "IsUpgrade": False,
            "Revision": 1,
        },
    }
    engine = Engine(defines)
    files: dict[str, str] = {}
    notes = ""
    for name, tree in trees.items():
        template_ctx = dict(ctx, Template={"Name": f"{chart['name']}/templates/{name}"})
        text = engine.execute(tree, template_ctx)
        if name == "NOTES.txt":
            notes = text
        else:
            files[f"templates/{name}"] = text
    return Rendered(files, notes, merged)
