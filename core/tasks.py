"""The task suite: minimal pairs judged by the model's next token.

A task yields pairs of prompts that differ minimally, each one's correct continuation the
other's incorrect one (the reference's `last_token_contrast_loss_fn` pairs them the same way).
Each prompt is scored at its last position by cross-entropy over only the two candidate tokens,
and both prompts of a pair are in every batch, so a pair counts two-sidedly. The reference adds
the pair's two losses; we average them, so its stored task losses are twice ours.
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
class Pair:
    """Two prompts that differ minimally, each one's correct answer the other's incorrect one.
    Scored two-sidedly (both in the same batch), like the reference's contrast loss."""

    a: Example
    b: Example

    def examples(self) -> list[Example]:
        return [self.a, self.b]


def pair(prompt_a: str, prompt_b: str, answer_a: str, answer_b: str) -> Pair:
    return Pair(Example(prompt_a, answer_a, answer_b), Example(prompt_b, answer_b, answer_a))


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    make: Callable[[random.Random], Pair]

    def pairs(self, n: int, split: str = "train", seed: int = 0) -> list[Pair]:
        """n distinct pairs (fewer if the task has fewer). A prompt's split is fixed by its
        hash, and a pair belongs to a split when both its prompts do (a prompt may be the twin
        in several pairs), so held-out prompts never appear in any training set, whatever the
        seeds and sizes of the two."""
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be train or heldout, got {split!r}")
        return _draw(self.make, n, random.Random(f"{seed}:{split}"), split)

    def examples(self, n: int, split: str = "train", seed: int = 0) -> list[Example]:
        """n examples: both prompts of each of the first (n + 1) // 2 pairs, so that every
        answer is as often correct as incorrect."""
        return [e for p in self.pairs((n + 1) // 2, split, seed) for e in p.examples()][:n]

    def twins(self, n: int, split: str = "train", seed: int = 0) -> dict[Example, Example]:
        """Each of `examples(n, split, seed)` with its minimal pair's other prompt (the source
        that patching takes values from)."""
        pairs = self.pairs((n + 1) // 2, split, seed)
        return {e: t for p in pairs for e, t in ((p.a, p.b), (p.b, p.a))}


HELDOUT_SHARE = 5  # one prompt in five belongs to the held-out split


def split_of(prompt: str) -> str:
    return "heldout" if zlib.crc32(prompt.encode("utf-8")) % HELDOUT_SHARE == 0 else "train"


def _draw(make, n, rng, split: str) -> list[Pair]:
    out, seen = [], set()
    for _ in range(50 * HELDOUT_SHARE**2 * n):  # held out: both prompts, 1 in 25
        if len(out) == n:
            break
        p = make(rng)
        fresh = p.a.prompt not in seen and p.b.prompt not in seen
        if fresh and split_of(p.a.prompt) == split_of(p.b.prompt) == split:
            seen.update((p.a.prompt, p.b.prompt))
            out.append(p)
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


def _fillers(rng, avoid, most=2) -> str:
    return "".join(_filler(rng, avoid) for _ in range(rng.randint(0, most)))


# ---- the tasks: each a minimal pair ----------------------------------------------------------


def single_double_quote(rng):
    name, func, words = _name(rng), rng.choice(FUNCS), _words(rng)
    start = rng.choice([f"{func}(", f"{name} = {func}("])
    return pair(f"{start}'{words}", f'{start}"{words}', "')", '")')


def bracket_counting(rng):
    name = _name(rng)
    items = ", ".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 4)))
    first = ", ".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 3)))
    return pair(f"{name} = [{items}", f"{name} = [[{first}], [{items}", "]", "]]")


def _set_or_string(rng, name):
    body = _fillers(rng, {name})
    string = rng.choice(['""', "''"])
    return pair(f"{name} = set()\n{body}{name}", f"{name} = {string}\n{body}{name}", ".", " +=")


def set_or_string(rng):
    return _set_or_string(rng, _name(rng))


def set_or_string_fixedvarname(rng):
    return _set_or_string(rng, "x")


def final_kwarg(rng):
    n_params = rng.randint(2, 4)
    params = rng.sample(["mode", "scale", "reverse", "verbose", "limit", "sep"], n_params)
    func = rng.choice(["compute", "update_scores", "save_results", "to_json"])
    defaults = ", ".join(f"{p}={rng.randint(0, 9)}" for p in params)
    values = [rng.randint(0, 9) for _ in params]
    head = f"def {func}({defaults}):\n    return {params[0]}\n\n\n{func}("
    every = ", ".join(f"{p}={v}" for p, v in zip(params, values))
    fewer = ", ".join(f"{p}={v}" for p, v in zip(params[:-1], values))
    return pair(head + every, head + fewer, ")", ",")


def bracket_brace(rng):
    name, key, value = _name(rng), rng.choice(WORDS), rng.randint(0, 99)
    return pair(f'{name} = {{"{key}": {value}', f'{name} = ["{key}", {value}', "}", "]")


def for_while(rng):
    name = _name(rng, {"count"})
    head = _filler(rng, {name})
    return pair(f"{head}for {name}", f"{head}while {name}", " in", " <")


def if_equals(rng):
    a = _name(rng)
    body = _filler(rng, set())
    return pair(f"{body}if {a}", f"{body}{a}", " ==", " =")


def else_elif(rng):
    a = _name(rng)
    head = f"if {a} == {rng.randint(0, 9)}:\n    {_name(rng)} = {rng.randint(0, 9)}\n"
    return pair(head + "else", head + "elif", ":", f" {a}")


def paren_counting(rng):
    name = _name(rng)
    start = rng.choice(["print(", f"{_name(rng, {name})} = str("])
    return pair(f"{start}len({name}", f"{start}{name}", "))", ")")


def append_or_add(rng):
    name = _name(rng)
    body = _fillers(rng, {name})
    return pair(f"{name} = []\n{body}{name}.", f"{name} = set()\n{body}{name}.", "append", "add")


def range_enumerate(rng):
    name, item = _name(rng, {"index"}), rng.choice(["x", "item", "value", "line"])
    head = _filler(rng, {name})
    return pair(f"{head}for i, {item} in", f"{head}for i in", " enumerate", " range")


def call_or_index(rng):
    name = _name(rng)
    start = rng.choice([f"{_name(rng, {name})} = ", "print(", ""])
    arg = rng.choice([str(rng.randint(0, 9)), _name(rng, {name})])
    return pair(f"{start}{name}({arg}", f"{start}{name}[{arg}", ")", "]")


def tuple_or_list(rng):
    name = _name(rng)
    items = ", ".join(str(rng.randint(0, 99)) for _ in range(rng.randint(1, 4)))
    return pair(f"{name} = ({items}", f"{name} = [{items}", ")", "]")


def key_or_item(rng):
    name, word, quote = _name(rng), rng.choice(WORDS), rng.choice(['"', "'"])
    return pair(f"{name} = {{{quote}{word}", f"{name} = [{quote}{word}", f"{quote}:", f"{quote},")


def string_or_counter(rng):
    name = _name(rng)
    body = _fillers(rng, {name})
    return pair(f'{name} = ""\n{body}{name} +=', f"{name} = 0\n{body}{name} +=", ' "', " 1")


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
        Task("for_while", "`for x` continues with ` in`, `while x` with ` <`", for_while),
        Task("if_equals", "`==` in an if condition, `=` in an assignment", if_equals),
        Task("else_elif", "`else` is followed by :, `elif` by a condition", else_elif),
        Task("paren_counting", "close print(len(x with )) and print(x with )", paren_counting),
        Task("append_or_add", "a list grows by .append, a set by .add", append_or_add),
        Task("range_enumerate", "`for i, x in` takes enumerate, `for i in` range", range_enumerate),
        Task("call_or_index", "close a call f(a with ) and an index f[a with ]", call_or_index),
        Task("tuple_or_list", "close a tuple (1, 2 with ) and a list [1, 2 with ]", tuple_or_list),
        Task("string_or_counter", 'x += " when x = "" began it, x += 1 when x = 0 did', string_or_counter),
        Task("key_or_item", 'a dict\'s first string is a key ("a":), a list\'s an item ("a",)', key_or_item),
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
    other keys are ignored), with "pair", the prompt's minimal twin, when there is one (its
    answers are the same two, swapped; the two prompts stay together, in one split). Errors
    name the file, the line and the field: `mine.jsonl:3: ...`."""
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
        group = [Example(record.prompt, record.correct, record.incorrect)]
        if record.pair is not None:
            group.append(Example(record.pair, record.incorrect, record.correct))
        examples.append(group)
    if not examples:
        raise TaskFileError(f"{path}: no examples")
    return FileTask(path.stem, f"examples from {path.name}", examples)


class FileTask(Task):
    """A fixed list of lines (each one example, or a pair of two): the first 80% train, the
    rest held out (all, if few)."""

    def __init__(self, name, description, fixed: list[list[Example]]):
        object.__setattr__(self, "fixed", fixed)
        super().__init__(name, description, lambda rng: rng.choice(fixed))

    def groups(self, split: str = "train") -> list[list[Example]]:
        """The split's lines: each one example, or a pair (the line's prompt first)."""
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be train or heldout, got {split!r}")
        cut = int(0.8 * len(self.fixed)) if len(self.fixed) >= 5 else len(self.fixed)
        return self.fixed[:cut] if split == "train" else (self.fixed[cut:] or self.fixed)

    def examples(self, n: int, split: str = "train", seed: int = 0) -> list[Example]:
        return [e for group in self.groups(split) for e in group][:n]

    def pairs(self, n: int, split: str = "train", seed: int = 0) -> list[Pair]:
        """The split's first n lines that have a twin, as pairs."""
        return [Pair(*group) for group in self.groups(split) if len(group) == 2][:n]

    def twins(self, n: int, split: str = "train", seed: int = 0) -> dict[Example, Example]:
        """The examples written with a "pair", each with its twin (a line without one has none)."""
        chosen = set(self.examples(n, split, seed))
        groups = [g for g in self.fixed if len(g) == 2 and g[0] in chosen]
        return {e: t for a, b in groups for e, t in ((a, b), (b, a))}
