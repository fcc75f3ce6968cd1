"""The task suite: minimally different pairs judged by the model's next token.

A task yields examples (prompt, correct continuation, incorrect continuation). The model is
scored at the prompt's last position by cross-entropy over only the two candidate tokens.
Tasks are defined on text, so they work with any tokenizer; a pair whose candidates are not
single, distinct tokens that follow the prompt naturally is rejected with a reason.
Adapted from Table 1 of Gao et al. 2025.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .fileio import FileFormatError, check_size
from .schemas import TaskLine, validated_json

NAMES = [
    "x",
    "data",
    "items",
    "result",
    "total",
    "names",
    "values",
    "count",
    "text",
    "path",
    "config",
    "rows",
    "users",
    "parts",
    "tags",
    "line",
    "key",
    "value",
    "node",
    "index",
    "words",
    "record",
    "entries",
    "scores",
    "label",
    "prefix",
    "message",
    "report",
]
WORDS = [
    "hello",
    "world",
    "alpha",
    "beta",
    "sample",
    "value",
    "error",
    "ready",
    "stone",
    "river",
    "paper",
    "green",
    "north",
    "table",
    "file",
    "closed",
    "coffee",
    "moon",
]
FUNCS = ["print", "len", "str", "process", "update", "load", "save", "append", "check", "send"]


@dataclass(frozen=True)
class Example:
    prompt: str
    correct: str
    incorrect: str


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    make: Callable[[random.Random], Example]

    def examples(self, n: int, split: str = "train", seed: int = 0) -> list[Example]:
        """n distinct examples (fewer if the task has fewer). A prompt's split is fixed by its
        hash, so held-out examples never appear in any training set, whatever the seeds and
        sizes of the two."""
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be train or heldout, got {split!r}")
        return _draw(self.make, n, random.Random(f"{seed}:{split}"), split)


HELDOUT_SHARE = 5  # one prompt in five belongs to the held-out split


def split_of(prompt: str) -> str:
    return "heldout" if zlib.crc32(prompt.encode("utf-8")) % HELDOUT_SHARE == 0 else "train"


def _draw(make, n, rng, split: str) -> list[Example]:
    out, prompts = [], set()
    for _ in range(50 * HELDOUT_SHARE * n):
        if len(out) == n:
            break
        example = make(rng)
        if example.prompt not in prompts and split_of(example.prompt) == split:
            prompts.add(example.prompt)
            out.append(example)
    return out


def _name(rng, exclude=()):
    return rng.choice([n for n in NAMES if n not in exclude])


def _words(rng, k=None):
    return " ".join(rng.choice(WORDS) for _ in range(k or rng.randint(1, 3)))


def _filler(rng, avoid) -> str:
    """One unrelated statement, so that a task's evidence is not always adjacent."""
    a, b = _name(rng, avoid), _name(rng, avoid)
    return rng.choice(
        [
            f"{a} = {rng.randint(0, 99)}\n",
            f"print({a})\n",
            f"{a} = len({b})\n",
            f"{a} = {b} + {rng.randint(1, 9)}\n",
        ]
    )


# ---- the tasks -------------------------------------------------------------------------------


def single_double_quote(rng):
    quote, other = rng.choice([("'", '"'), ('"', "'")])
    name, func = _name(rng), rng.choice(FUNCS)
    prompt = rng.choice([f"{func}({quote}{_words(rng)}", f"{name} = {func}({quote}{_words(rng)}"])
    return Example(prompt, quote + ")", other + ")")


def bracket_counting(rng):
    depth = rng.choice([1, 2])
    items = ", ".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 4)))
    inner = f"[{items}"
    if depth == 2:
        first = ", ".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 3)))
        prompt = f"{_name(rng)} = [[{first}], {inner}"
    else:
        prompt = f"{_name(rng)} = {inner}"
    return Example(prompt, "]" * depth, "]" * (3 - depth))


def _set_or_string(rng, name):
    is_set = rng.random() < 0.5
    init = "set()" if is_set else rng.choice(['""', "''"])
    body = "".join(_filler(rng, {name}) for _ in range(rng.randint(0, 2)))
    prompt = f"{name} = {init}\n{body}{name}"
    return Example(prompt, "." if is_set else " +=", " +=" if is_set else ".")


def set_or_string(rng):
    return _set_or_string(rng, _name(rng))


def set_or_string_fixedvarname(rng):
    return _set_or_string(rng, "x")


def final_kwarg(rng):
    n_params = rng.randint(1, 3)
    params = rng.sample(["mode", "scale", "reverse", "verbose", "limit", "sep"], n_params)
    func = rng.choice(["compute", "update_scores", "save_results", "to_json"])
    defaults = ", ".join(f"{p}={rng.randint(0, 9)}" for p in params)
    given = rng.randint(1, n_params)
    args = ", ".join(f"{p}={rng.randint(0, 9)}" for p in params[:given])
    prompt = f"def {func}({defaults}):\n    return {params[0]}\n\n\n{func}({args}"
    complete = given == n_params
    return Example(prompt, ")" if complete else ",", "," if complete else ")")


def bracket_brace(rng):
    key = rng.choice(WORDS)
    if rng.random() < 0.5:
        prompt = f'{_name(rng)} = {{"{key}": {rng.randint(0, 99)}'
        return Example(prompt, "}", "]")
    prompt = f'{_name(rng)} = ["{key}", {rng.randint(0, 99)}'
    return Example(prompt, "]", "}")


def with_open(rng):
    path = rng.choice(NAMES + ["filename", "config_path", "'data.txt'", '"out.csv"'])
    mode = rng.choice(["", "", ", 'r'", ', "w"', ", encoding='utf-8'"])
    return Example(f"{_filler(rng, set())}with open({path}{mode})", " as", " in")


def for_while(rng):
    name = _name(rng, {"count"})
    head = _filler(rng, {name})
    if rng.random() < 0.5:
        return Example(f"{head}for {name}", " in", " <")
    return Example(f"{head}while {name}", " <", " in")


def if_equals(rng):
    a, _ = _name(rng), _name(rng)  # the second draw keeps the examples as they were
    body = _filler(rng, set())
    if rng.random() < 0.5:
        return Example(f"{body}if {a}", " ==", " =")
    return Example(f"{body}{a}", " =", " ==")


def else_elif(rng):
    a = _name(rng)
    head = f"if {a} == {rng.randint(0, 9)}:\n    {_name(rng)} = {rng.randint(0, 9)}\n"
    if rng.random() < 0.5:
        return Example(head + "else", ":", f" {a}")
    return Example(head + "elif", f" {a}", ":")


BUILTIN_TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task("single_double_quote", "close a string with the quote it opened with", single_double_quote),
        Task("bracket_counting", "close one or two levels of nested lists: ] or ]]", bracket_counting),
        Task("set_or_string", ".add( or += from how the variable was initialised", set_or_string),
        Task(
            "set_or_string_fixedvarname",
            "set_or_string, always with the variable x",
            set_or_string_fixedvarname,
        ),
        Task("final_kwarg", "after keyword arguments: ) when all were given, else ,", final_kwarg),
        Task("bracket_brace", "close a dict with } and a list with ]", bracket_brace),
        Task("with_open", "`with open(...)` continues with ` as`, not ` in`", with_open),
        Task("for_while", "`for x` continues with ` in`, `while x` with ` <`", for_while),
        Task("if_equals", "`==` in an if condition, `=` in an assignment", if_equals),
        Task("else_elif", "`else` is followed by :, `elif` by a condition", else_elif),
    ]
}


class TaskError(ValueError):
    """An unknown task or a bad task file; the message names it."""


class TaskFileError(TaskError, FileFormatError):
    """A bad task file: a TaskError that is also a FileFormatError, like every other bad file."""


def get_task(name_or_path: str) -> Task:
    """A built-in task by name, or a user's task from a JSONL file."""
    if name_or_path in BUILTIN_TASKS:
        return BUILTIN_TASKS[name_or_path]
    path = Path(name_or_path)
    if path.suffix == ".jsonl" or path.exists():
        return load_task_file(path)
    raise TaskError(f"unknown task {name_or_path!r} (built-in: {', '.join(BUILTIN_TASKS)}; or a .jsonl file)")


def load_task_file(path: Path) -> Task:
    """A user's task: one {"prompt", "correct", "incorrect"} object per line (non-empty strings;
    other keys are ignored). Errors name the file, the line and the field: `mine.jsonl:3: ...`."""
    path = Path(path)
    check_size(path, 64 << 20)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise TaskFileError(f"{path}: not UTF-8 text") from None
    examples = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = validated_json(TaskLine, line, f"{path}:{number}", error=TaskFileError)
        examples.append(Example(record.prompt, record.correct, record.incorrect))
    if not examples:
        raise TaskFileError(f"{path}: no examples")
    return FileTask(path.stem, f"examples from {path.name}", examples)


class FileTask(Task):
    """A fixed list of examples: the first 80% train, the rest held out (all, if few)."""

    def __init__(self, name, description, fixed: list[Example]):
        object.__setattr__(self, "fixed", fixed)
        super().__init__(name, description, lambda rng: rng.choice(fixed))

    def examples(self, n: int, split: str = "train", seed: int = 0) -> list[Example]:
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be train or heldout, got {split!r}")
        cut = int(0.8 * len(self.fixed)) if len(self.fixed) >= 5 else len(self.fixed)
        chosen = self.fixed[:cut] if split == "train" else (self.fixed[cut:] or self.fixed)
        return chosen[:n]
