"""The project's JSON formats as pydantic models, and one way to turn their errors into a line.

Every reader validates what it parsed with `validated(Model, data, source)`: either a model, or
a FileFormatError of one line that names the file and the path of the field at fault, e.g.

    c.json: field 'nodes[3]': '0.mlp.nowhere.3' is not a node name like '0.mlp.post_act.12' ...
    w.json: field 'interventions[0].mode': must be mean, zero or patch (got "avg")
    w.json: missing field 'graph.selection'

Models here are strict: JSON's types are taken as they are (no "3" for 3, no true for 1), as the
workspace's hand-written checks were (the circuit's took "0.15" for a number; no file we wrote
did that). The app's own formats (the workspace) live in app/.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .fileio import FileFormatError
from .topology import Node

M = TypeVar("M", bound=BaseModel)

# When one of these fields is wrong the file is of another kind or version, so the rest of its
# errors say nothing useful: report that field alone.
IDENTIFYING_FIELDS = ("format", "version")
MAX_ERRORS_SHOWN = 3


# ---- errors -----------------------------------------------------------------------------------

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "none_required": "null",
}


def field_path(loc: tuple) -> str:
    """('interventions', 0, 'mode') -> "interventions[0].mode". A key of a file's own making
    that holds control characters (a newline) is shown escaped, so the message stays one line."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not text.isprintable():
                text = json.dumps(text, ensure_ascii=False)
            out += ("." if out else "") + text
    return out


def _shown(value: Any, limit: int = 40) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure: not from JSON, but be safe
        text = repr(value)
    text = " ".join(text.split())  # one line, whatever the value holds
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem(error: dict) -> str:
    """What is wrong with one field, in words (no file, no field name)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {_shown(error['input'])})"
    if kind == "literal_error":
        return f"must be {ctx['expected'].replace(chr(39), '')} (got {_shown(error['input'])})"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "json_invalid":
        return f"not valid JSON ({ctx.get('error', error['msg'])})"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    msg = str(error["msg"])
    if msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be ") :]
    return msg[:1].lower() + msg[1:]


def describe(error: dict) -> str:
    """One error as "missing field 'a.b'", "field 'a[0]': must be ..." or just the problem."""
    where = field_path(tuple(error["loc"]))
    if error["type"] == "missing":
        return f"missing field '{where}'"
    text = " ".join(problem(error).split())
    return f"field '{where}': {text}" if where else text


def format_errors(errors: list[dict], source: str) -> str:
    """The errors of one validation as one line that starts with `source`."""
    identifying = [e for e in errors if e["loc"] and e["loc"][0] in IDENTIFYING_FIELDS]
    errors = identifying[:1] or errors
    parts = [describe(e) for e in errors[:MAX_ERRORS_SHOWN]]
    if len(errors) > MAX_ERRORS_SHOWN:
        parts.append(f"and {len(errors) - MAX_ERRORS_SHOWN} more")
    return f"{source}: {'; '.join(parts)}"


def validated(model: type[M], data: Any, source: str, *, error: type[Exception] = FileFormatError) -> M:
    """`data` (parsed JSON) as a `model`, or `error` with one line naming `source` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise error(format_errors(e.errors(include_url=False), source)) from None


def validated_json(
    model: type[M], text: str | bytes, source: str, *, error: type[Exception] = FileFormatError
) -> M:
    """Like `validated`, parsing the JSON text too (a syntax error is reported the same way)."""
    try:
        return model.model_validate_json(text)
    except ValidationError as e:
        raise error(format_errors(e.errors(include_url=False), source)) from None


# ---- shared pieces ----------------------------------------------------------------------------


class Strict(BaseModel):
    """JSON types as they are; unknown keys are ignored unless a model says otherwise."""

    model_config = ConfigDict(strict=True, extra="ignore")


def _node_name(name: str) -> str:
    Node.parse(name)  # ValueError with the reason
    return name


NodeName = Annotated[str, AfterValidator(_node_name)]
"""A node name like "0.mlp.post_act.12", checked by `Node.parse`."""

Ablation = Literal["mean", "zero"]
Mode = Literal["mean", "zero", "patch"]  # an intervention's: patch takes the paired prompt's value
NonEmpty = Annotated[str, Field(min_length=1)]


# ---- a circuit (core/circuit.py) --------------------------------------------------------------

CIRCUIT_FORMAT = "sparse-circuits-circuit"


class CircuitEdge(Strict):
    model_config = ConfigDict(extra="allow")  # kept as written
    src: NodeName
    dst: NodeName
    weight: float
    kind: Literal["weight", "residual"] = "weight"


class Calibration(Strict):
    model_config = ConfigDict(extra="allow")
    scale: float
    shift: float


def _k_and_loss(pair: list[float]) -> list:
    if len(pair) != 2:
        raise ValueError(f"must be [k, loss] (got {_shown(pair)})")
    k, loss = pair
    if k < 0 or k != int(k):
        raise ValueError(f"k must be a whole number of nodes (got {_shown(k)})")
    return [int(k), loss]


LossAtK = Annotated[list[float], AfterValidator(_k_and_loss)]
"""[k, task loss of the best k-node circuit found]."""


class CircuitFile(Strict):
    """A circuit file. Unknown keys are kept (`model_extra`, the Circuit's `extra`)."""

    model_config = ConfigDict(extra="allow")
    format: Literal["sparse-circuits-circuit"] = CIRCUIT_FORMAT  # absent in early files
    task: str
    target_loss: float
    ablation: Ablation
    nodes: list[NodeName]
    edges: list[CircuitEdge]
    loss_full: float
    loss_circuit: float
    seed: int = 0
    calibration: Calibration | None = None
    n_examples: int = 0
    checks: dict[str, Any] | None = None
    model: str | None = None
    loss_vs_k: list[LossAtK] | None = None  # absent in files written before the curve was kept
    # Derived from nodes and edges when written and recomputed from them on reading (a file
    # written before residual links were counted apart has an n_edges that counted both).
    n_nodes: int | None = None
    nodes_per_location: dict[str, int] | None = None
    n_edges: int | None = None
    n_residual_edges: int | None = None
    # Imported from OpenAI's viz_data.pt (core/openai_viz.py): how much the circuit's task loss
    # rises when one of its nodes is ablated. Kept in the Circuit's `extra`.
    node_ablation_delta: dict[NodeName, float] | None = None


# ---- an intervention (core/interventions.py), as the workspace stores it ----------------------


class InterventionEntry(Strict):
    kind: Literal["node", "edge"]
    target: str
    mode: Mode = "mean"

    @field_validator("target")
    @classmethod
    def _target_names_nodes(cls, target: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")  # absent when kind itself was wrong
        if kind == "node":
            Node.parse(target)
        elif kind == "edge":
            src, sep, dst = target.partition("->")
            if not sep:
                raise ValueError(f"edge {target!r} is not written 'src->dst'")
            Node.parse(src)
            Node.parse(dst)
        return target


# ---- a line of a task file (core/tasks.py) ----------------------------------------------------


class TaskLine(Strict):
    prompt: NonEmpty
    correct: NonEmpty
    incorrect: NonEmpty
    pair: NonEmpty | None = None  # the prompt's minimal twin: its correct answer is `incorrect`
