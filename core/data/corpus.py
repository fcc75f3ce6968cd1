"""Training text: generated Python programs, shipped real code, and user folders.

The generated programs are built from many small random statement templates.
They are deliberately dense in the idioms the interpretability tasks probe
(matching quotes, nested brackets, set vs string variables, keyword calls...),
while the shipped standard-library files keep the model exposed to real code.
"""

from __future__ import annotations

import io
import lzma
import os
import random
import stat
import sys
import zipfile
from pathlib import Path

MAX_FILE_BYTES = 2 * 1024 * 1024
# The shipped archive of standard-library modules (about 1.4 MB of text); the limits refuse
# an archive that would decompress to far more than that before anything is decompressed.
MAX_ARCHIVE_MEMBERS = 1000
MAX_ARCHIVE_BYTES = 32 * 1024 * 1024
MIN_PROGRAM_LINES = 5
MAX_PROGRAM_LINES = 40
INDENT = "    "


class CorpusError(ValueError):
    """A corpus folder or archive is missing, unreadable, refused, or holds no usable .py file."""


# ---------------------------------------------------------------------------
# Locations and loading
# ---------------------------------------------------------------------------


def resources_dir() -> Path:
    """`<root>/resources`, or the bundled copy when frozen by PyInstaller."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def stdlib_archive() -> Path:
    """The shipped zip of standard-library modules (see resources/corpus/README.md)."""
    return resources_dir() / "corpus" / "python_stdlib.zip"


def read_code_archive(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(name, text) for every module in a zip of .py files, sorted by name.

    `path` defaults to the shipped standard-library archive. Every member must be a
    plain file with a bare `.py` name (no folder, no path) within the size limits;
    sizes are checked from the zip's directory before anything is decompressed.
    Texts are decoded as the files used to be read (UTF-8, universal newlines).
    Raises CorpusError naming the archive when it is missing, corrupt or refused.
    """
    archive = Path(path) if path is not None else stdlib_archive()
    if not archive.is_file():
        raise CorpusError(f"Corpus archive does not exist: {archive}")
    try:
        with zipfile.ZipFile(archive) as zf:
            members = _checked_members(archive, zf.infolist())
            modules = [(info.filename, _read_member(archive, zf, info)) for info in members]
    except (zipfile.BadZipFile, lzma.LZMAError, EOFError, OSError, NotImplementedError) as exc:
        raise CorpusError(f"Corpus archive {archive} is unreadable: {exc}") from exc
    if not modules:
        raise CorpusError(f"Corpus archive {archive} holds no .py file")
    return modules


def _checked_members(archive: Path, infos: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise CorpusError(
            f"Corpus archive {archive} has {len(infos)} members (at most {MAX_ARCHIVE_MEMBERS})"
        )
    names: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if (
            not name.endswith(".py")
            or name.startswith(".")
            or "/" in name
            or "\\" in name
            or ":" in name
            or "\0" in name
            or info.is_dir()
        ):
            raise CorpusError(f"Corpus archive {archive} holds {name!r}, not a plain .py file name")
        # Unix type bits, when the zip tool stored any: only a regular file (no link, device...).
        if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG):
            raise CorpusError(f"Corpus archive {archive} member {name!r} is not a plain file")
        if info.flag_bits & 0x1:
            raise CorpusError(f"Corpus archive {archive} member {name!r} is encrypted")
        if name in names:
            raise CorpusError(f"Corpus archive {archive} holds {name!r} twice")
        names.add(name)
        if info.file_size > MAX_FILE_BYTES:
            raise CorpusError(
                f"Corpus archive {archive} member {name!r} is {info.file_size:,} "
                f"bytes (at most {MAX_FILE_BYTES:,})"
            )
        total += info.file_size
        if total > MAX_ARCHIVE_BYTES:
            raise CorpusError(
                f"Corpus archive {archive} decompresses to more than {MAX_ARCHIVE_BYTES:,} bytes"
            )
    return sorted(infos, key=lambda info: info.filename)


def _read_member(archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    with zf.open(info) as member:
        # Never more than the declared size is held (zipfile stops there and checks the CRC);
        # asking for one byte more notices a member shorter than declared.
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise CorpusError(
            f"Corpus archive {archive} member {info.filename!r} does not match its declared size"
        )
    try:
        # Exactly what Path.read_text(encoding="utf-8") gave for the loose files.
        return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8").read()
    except UnicodeDecodeError as exc:
        raise CorpusError(f"Corpus archive {archive} member {info.filename!r} is not UTF-8: {exc}") from exc


def embedded_corpus(n_generated: int = 20000, seed: int = 0, archive: str | Path | None = None) -> list[str]:
    """The default training corpus: generated programs plus the shipped real modules."""
    documents = generate_programs(n_generated, seed)
    documents += [text for _name, text in read_code_archive(archive)]
    return documents


def load_corpus_dir(path) -> tuple[list[str], int]:
    """Read every usable .py file under `path` (recursively, sorted).

    Returns (documents, n_skipped). Unreadable, non-UTF-8, empty and
    oversized files are skipped and counted rather than raising.
    """
    folder = Path(path)
    if not folder.exists():
        raise CorpusError(f"Corpus folder does not exist: {folder}")
    if not folder.is_dir():
        raise CorpusError(f"Corpus path is not a folder: {folder}")

    documents: list[str] = []
    n_skipped = 0
    for file in _python_files(folder):
        text = _read_source(file)
        if text is None:
            n_skipped += 1
        else:
            documents.append(text)

    if not documents:
        raise CorpusError(
            f"No usable .py file in {folder} ({n_skipped} file(s) skipped: "
            "unreadable, not UTF-8, empty or larger than 2 MB)"
        )
    return documents, n_skipped


def _python_files(folder: Path) -> list[Path]:
    # os.walk does not follow directory symlinks, so link loops cannot hang us.
    files = []
    for dirpath, _dirnames, filenames in os.walk(folder):
        files += [Path(dirpath) / name for name in filenames if name.endswith(".py")]
    return sorted(files)


def _read_source(file: Path) -> str | None:
    """The file's text, or None when it is not usable."""
    try:
        if not file.is_file():
            return None
        size = file.stat().st_size
        if size == 0 or size > MAX_FILE_BYTES:
            return None
        text = file.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    return text if text.strip() else None


# ---------------------------------------------------------------------------
# Vocabulary pools for the generator
# ---------------------------------------------------------------------------

NAMES = [
    "items",
    "values",
    "data",
    "result",
    "total",
    "count",
    "index",
    "name",
    "names",
    "text",
    "line",
    "lines",
    "words",
    "word",
    "key",
    "keys",
    "value",
    "record",
    "records",
    "row",
    "rows",
    "entry",
    "entries",
    "path",
    "paths",
    "config",
    "options",
    "settings",
    "scores",
    "score",
    "users",
    "user",
    "tags",
    "labels",
    "label",
    "output",
    "buffer",
    "message",
    "messages",
    "prefix",
    "suffix",
    "size",
    "limit",
    "offset",
    "start",
    "end",
    "step",
    "current",
    "previous",
    "node",
    "nodes",
    "queue",
    "stack",
    "seen",
    "visited",
    "matches",
    "errors",
    "report",
    "summary",
    "parts",
    "chunk",
    "header",
    "status",
]

WORDS = [
    "apple",
    "banana",
    "cherry",
    "hello",
    "world",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "red",
    "green",
    "blue",
    "north",
    "south",
    "east",
    "west",
    "open",
    "closed",
    "ready",
    "done",
    "error",
    "warning",
    "info",
    "debug",
    "user",
    "admin",
    "guest",
    "file",
    "data",
    "report",
    "total",
    "count",
    "name",
    "value",
    "item",
    "list",
    "table",
    "row",
    "column",
    "start",
    "stop",
    "pause",
    "run",
    "test",
    "sample",
    "output",
    "input",
    "result",
    "cat",
    "dog",
    "bird",
    "fish",
    "tree",
    "river",
    "stone",
    "cloud",
    "rain",
    "sun",
    "moon",
    "star",
    "paper",
    "pencil",
    "coffee",
    "tea",
    "monday",
    "friday",
]

FUNCTION_NAMES = [
    "process",
    "compute",
    "build_report",
    "load_data",
    "parse_line",
    "format_name",
    "update_scores",
    "merge",
    "collect",
    "summarize",
    "render",
    "validate",
    "normalize",
    "find_matches",
    "count_words",
    "make_table",
    "send_message",
    "read_config",
    "apply_filter",
    "group_items",
    "transform",
    "to_json",
    "clean_text",
    "split_words",
    "add_entry",
    "get_value",
    "create_user",
    "save_results",
    "check_status",
    "handle",
]

CLASS_NAMES = [
    "Counter",
    "Inventory",
    "Parser",
    "Report",
    "Node",
    "Queue",
    "User",
    "Config",
    "Cache",
    "Matrix",
    "Document",
    "Session",
    "Task",
    "Library",
    "Account",
    "Shape",
    "Logger",
    "Registry",
    "Tracker",
    "Buffer",
]

KWARG_NAMES = [
    "limit",
    "verbose",
    "sep",
    "title",
    "mode",
    "default",
    "key",
    "reverse",
    "strict",
    "encoding",
    "width",
    "scale",
    "prefix",
    "timeout",
    "retries",
    "name",
    "color",
    "level",
    "size",
    "start",
]

FILE_NAMES = [
    "data.txt",
    "config.ini",
    "notes.md",
    "input.csv",
    "log.txt",
    "words.txt",
    "report.json",
    "scores.csv",
    "users.txt",
    "output.txt",
]

IMPORTS = [
    "import os",
    "import sys",
    "import json",
    "import re",
    "import math",
    "import random",
    "import string",
    "import itertools",
    "from collections import defaultdict",
    "from collections import Counter",
    "from pathlib import Path",
    "from typing import List, Dict",
    "from dataclasses import dataclass",
    "import csv",
    "import time",
]

COMMENT_PHRASES = [
    "update the counter",
    "skip empty lines",
    "keep only unique values",
    "build the result",
    "check the status first",
    "collect all names",
    "TODO: handle errors",
    "normalize the input",
    "default settings",
    "read everything at once",
    "store for later",
    "compare with previous",
    "nested structure",
    "main loop",
    "helper values",
    "clean up",
]

COMPARISONS = ["<", ">", "<=", ">=", "!="]
ARITHMETIC = ["+", "-", "*", "//", "%"]


# ---------------------------------------------------------------------------
# Program generator
# ---------------------------------------------------------------------------


def generate_programs(n: int, seed: int) -> list[str]:
    """n short, syntactically valid Python programs; same seed, same output."""
    writer = _ProgramWriter(random.Random(seed))
    return [writer.program() for _ in range(n)]


def _indent(lines: list[str]) -> list[str]:
    return [INDENT + line if line else line for line in lines]


class _ProgramWriter:
    """Builds one program at a time from small random templates.

    Every statement method returns a list of lines, indented relative to the
    block it will sit in.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        # Names the current pattern tracks; filler statements must not reuse them.
        self.reserved: set[str] = set()

    # -- random helpers -----------------------------------------------------
    # random.Random.choice/randint go through a slow rejection sampler; scaling
    # random() is about twice as fast and plenty uniform for this purpose.

    def choice(self, options):
        return options[int(self.rng.random() * len(options))]

    def randint(self, low: int, high: int) -> int:
        return low + int(self.rng.random() * (high - low + 1))

    # -- atoms ------------------------------------------------------------

    def name(self) -> str:
        while True:
            candidate = self.choice(NAMES)
            if candidate not in self.reserved:
                return candidate

    def tracked_name(self) -> str:
        """A variable a pattern follows; often plain `x`, as in quick scripts."""
        return "x" if self.rng.random() < 0.25 else self.name()

    def two_names(self) -> tuple[str, str]:
        first = self.name()
        second = self.name()
        while second == first:
            second = self.name()
        return first, second

    def number(self) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return str(self.randint(0, 10))
        if roll < 0.9:
            return str(self.randint(11, 1000))
        return f"{self.rng.uniform(0, 100):.{self.randint(1, 3)}f}"

    def quote(self) -> str:
        return '"' if self.rng.random() < 0.5 else "'"

    def text(self) -> str:
        n_words = self.choice([1, 1, 1, 2, 3])
        if n_words == 1:
            return self.choice(WORDS)
        return " ".join(self.rng.sample(WORDS, n_words))

    def string(self) -> str:
        q = self.quote()
        return f"{q}{self.text()}{q}"

    def fstring(self) -> str:
        q = self.quote()
        a, b = self.two_names()
        template = self.choice(
            [
                "{w}: {{{a}}}",
                "{{{a}}} {w} {{{b}}}",
                "{w} {{{a}!r}}",
                "{{{a}}}/{{{b}}}",
                "{w} = {{{a}:>{n}}}",
            ]
        )
        body = template.format(w=self.choice(WORDS), a=a, b=b, n=self.randint(2, 9))
        return f"f{q}{body}{q}"

    def atom(self) -> str:
        roll = self.rng.random()
        if roll < 0.4:
            return self.number()
        if roll < 0.75:
            return self.string()
        return self.name()

    def atoms(self, low: int, high: int) -> list[str]:
        return [self.atom() for _ in range(self.randint(low, high))]

    # -- collections ------------------------------------------------------

    def flat_list(self, low: int = 0, high: int = 4) -> str:
        return "[" + ", ".join(self.atoms(low, high)) + "]"

    def nested_list(self, depth: int) -> str:
        """A list nested exactly `depth` levels (1 means a list of lists)."""
        if depth == 0:
            return self.flat_list(1, 3)
        parts = self.atoms(0, 2) + [self.nested_list(depth - 1)]
        for _ in range(self.randint(0, 2)):
            parts.append(self.flat_list(1, 3) if self.rng.random() < 0.6 else self.atom())
        if self.rng.random() < 0.5:
            # Keep the deepest list last so lines end in `]]` or `]]]`.
            self.rng.shuffle(parts)
        return "[" + ", ".join(parts) + "]"

    def dict_literal(self, nested: bool = True) -> str:
        keys = self.rng.sample(WORDS, self.randint(1, 3))
        pairs = []
        for key in keys:
            q = self.quote()
            pairs.append(f"{q}{key}{q}: {self.collection_value(nested)}")
        return "{" + ", ".join(pairs) + "}"

    def collection_value(self, nested: bool) -> str:
        if not nested or self.rng.random() < 0.6:
            return self.atom()
        if self.rng.random() < 0.7:
            return self.flat_list(1, 3)
        return self.dict_literal(nested=False)

    def list_of_dicts(self) -> str:
        count = self.randint(1, 3)
        return "[" + ", ".join(self.dict_literal(nested=False) for _ in range(count)) + "]"

    def literal(self) -> str:
        """Any right-hand-side literal, favouring brackets and quotes."""
        makers = [
            self.string,
            self.string,
            self.number,
            self.flat_list,
            lambda: self.nested_list(1),
            lambda: self.nested_list(2),
            self.dict_literal,
            self.list_of_dicts,
            self.fstring,
        ]
        return self.choice(makers)()

    # -- expressions --------------------------------------------------------

    def expression(self) -> str:
        roll = self.rng.random()
        a, b = self.two_names()
        if roll < 0.25:
            return self.literal()
        if roll < 0.4:
            return f"{a} {self.choice(ARITHMETIC)} {self.number()}"
        if roll < 0.55:
            return f"len({a})"
        if roll < 0.7:
            return f"{a}[{self.randint(0, 5)}]"
        if roll < 0.8:
            return f"{a}.get({self.string()}, {self.atom()})"
        if roll < 0.9:
            return self.call()
        return f"{a} {self.choice(ARITHMETIC)} {b}"

    def condition(self) -> str:
        a, b = self.two_names()
        roll = self.rng.random()
        if roll < 0.3:
            return f"{a} == {b}"
        if roll < 0.55:
            return f"{a} == {self.atom()}"
        if roll < 0.7:
            return f"{a} {self.choice(COMPARISONS)} {self.number()}"
        if roll < 0.8:
            return f"len({a}) == {self.randint(0, 5)}"
        if roll < 0.9:
            return f"{a} in {b}"
        return f"{a} is None" if self.rng.random() < 0.5 else f"not {a}"

    def keyword_args(self, low: int = 1, high: int = 3) -> list[str]:
        keys = self.rng.sample(KWARG_NAMES, self.randint(low, high))
        values = [self.kwarg_value() for _ in keys]
        return [f"{k}={v}" for k, v in zip(keys, values)]

    def kwarg_value(self) -> str:
        roll = self.rng.random()
        if roll < 0.35:
            return self.string()
        if roll < 0.6:
            return self.number()
        if roll < 0.75:
            return self.choice(["True", "False", "None"])
        if roll < 0.9:
            return self.name()
        return self.flat_list(1, 3)

    def call(self, function: str | None = None) -> str:
        function = function or self.choice(FUNCTION_NAMES)
        roll = self.rng.random()
        if roll < 0.3:
            args = [self.name() for _ in range(self.randint(0, 2))] + self.keyword_args()
        elif roll < 0.5:
            args = [self.nested_list(self.choice([0, 1]))]
        elif roll < 0.65:
            args = [self.name(), self.dict_literal()]
        elif roll < 0.8:
            args = [self.string()] + self.keyword_args(0, 2)
        else:
            args = self.atoms(0, 3)
        return f"{function}({', '.join(args)})"

    # -- simple statements --------------------------------------------------

    def simple_statement(self) -> list[str]:
        makers = [
            self.assign_literal,
            self.assign_literal,
            self.assign_expression,
            self.print_call,
            self.print_call,
            self.call_statement,
            self.augmented_number,
            self.comprehension,
            self.append_call,
            self.comment,
            self.nested_call,
            self.numeric_list,
            self.numeric_list,
        ]
        return self.choice(makers)()

    def assign_literal(self) -> list[str]:
        return [f"{self.name()} = {self.literal()}"]

    def assign_expression(self) -> list[str]:
        return [f"{self.name()} = {self.expression()}"]

    def print_call(self) -> list[str]:
        roll = self.rng.random()
        if roll < 0.35:
            args = [self.string(), self.name()]
        elif roll < 0.6:
            args = [self.fstring()]
        elif roll < 0.8:
            args = [self.string()]
        elif roll < 0.9:
            args = [self.name(), f"sep={self.string()}"]
        else:  # a name alone, or its length: print(x) and print(len(x))
            args = [self.choice([self.name(), f"len({self.name()})"])]
        return [f"print({', '.join(args)})"]

    def call_statement(self) -> list[str]:
        if self.rng.random() < 0.15:
            a, b = self.two_names()
            return [f"{a} = {self.choice(['str', 'int', 'len', 'sorted'])}({self.choice([b, f'len({b})'])})"]
        if self.rng.random() < 0.5:
            return [f"{self.name()} = {self.call()}"]
        return [self.call()]

    def nested_call(self) -> list[str]:
        a, b = self.two_names()
        c = self.name()
        function = self.choice(FUNCTION_NAMES)
        shapes = [
            f"{function}([{a}, [{b}, {c}]])",
            f"{function}([[{a}], [{b}, {c}]])",
            f"{function}({a}, [{self.atom()}, {self.flat_list(1, 3)}])",
            f"{a}.extend([{self.flat_list(1, 2)}, {self.flat_list(1, 2)}])",
        ]
        return [self.choice(shapes)]

    def numeric_list(self) -> list[str]:
        """A row of numbers or a small matrix, as data tables and tests write them."""

        def row() -> str:
            return "[" + ", ".join(str(self.randint(0, 99)) for _ in range(self.randint(1, 4))) + "]"

        roll = self.rng.random()
        if roll < 0.45:
            value = row()
        elif roll < 0.9:
            value = "[" + ", ".join(row() for _ in range(self.randint(1, 3))) + "]"
        else:
            return [f"{self.name()}.append({row()})"]
        return [f"{self.name()} = {value}"]

    def augmented_number(self) -> list[str]:
        return [f"{self.name()} {self.choice(['+=', '-=', '*='])} {self.number()}"]

    def comprehension(self) -> list[str]:
        target, source = self.two_names()
        var = self.choice(["x", "n", "item", "w", "v"])
        element = self.choice([var, f"{var} * {var}", f"str({var})", f"{var}.strip()", f"[{var}]"])
        guard = f" if {var} {self.choice(COMPARISONS)} {self.number()}" if self.rng.random() < 0.4 else ""
        return [f"{target} = [{element} for {var} in {source}{guard}]"]

    def append_call(self) -> list[str]:
        method = self.choice(["append", "append", "extend", "insert"])
        a = self.name()
        if method == "extend":
            return [f"{a}.extend({self.flat_list(1, 3)})"]
        if method == "insert":
            return [f"{a}.insert({self.randint(0, 3)}, {self.atom()})"]
        return [f"{a}.append({self.choice([self.atom(), self.flat_list(1, 3), self.dict_literal(False)])})"]

    def comment(self) -> list[str]:
        return [f"# {self.choice(COMMENT_PHRASES)}"]

    def fillers(self, low: int, high: int) -> list[str]:
        lines: list[str] = []
        for _ in range(self.randint(low, high)):
            lines += self.simple_statement()
        return lines

    # -- blocks -------------------------------------------------------------

    def body(self, depth: int) -> list[str]:
        """1-3 statements for an indented block, sometimes with a nested block."""
        lines: list[str] = []
        for _ in range(self.randint(1, 3)):
            if depth < 2 and self.rng.random() < 0.2:
                lines += self.compound_statement(depth + 1)
            else:
                lines += self.simple_statement()
        if all(line.startswith("#") for line in lines):
            # A block of comments alone is not a valid body.
            lines += self.assign_literal()
        return lines

    def compound_statement(self, depth: int) -> list[str]:
        makers = [
            self.for_loop,
            self.while_loop,
            self.if_chain,
            self.with_open,
            self.set_pattern,
            self.list_pattern,
            self.string_pattern,
            self.try_block,
        ]
        return self.choice(makers)(depth)

    def for_loop(self, depth: int) -> list[str]:
        source, other = self.two_names()
        # Loop variables are any name as often as the usual short ones, as in real code.
        item = self.choice(["item", "x", "value", "line"]) if self.rng.random() < 0.5 else other
        header = self.choice(
            [
                f"for {item} in {source}:",
                f"for i in range({self.randint(1, 20)}):",
                f"for i in range(len({source})):",
                f"for key, value in {source}.items():",
                f"for i, {item} in enumerate({source}):",
                f"for {item} in {self.flat_list(2, 4)}:",
                f"for line in {source}:",
            ]
        )
        return [header] + _indent(self.body(depth))

    def while_loop(self, depth: int) -> list[str]:
        short = ["i", "n", "count", "attempts", "steps", "j"]
        counter = self.choice(short) if self.rng.random() < 0.5 else self.name()
        self.reserved.add(counter)
        limit = self.randint(2, 50)
        lines = [f"{counter} = 0"]
        if self.rng.random() < 0.6:
            lines += [f"while {counter} < {limit}:"]
            lines += _indent(self.body(depth) + [f"{counter} += 1"])
        else:
            flag = self.choice(["done", "finished", "stop"])
            lines += [f"{flag} = False", f"while not {flag}:"]
            check = [f"if {counter} == {limit}:", f"{INDENT}{flag} = True"]
            lines += _indent([f"{counter} += 1"] + self.body(depth) + check)
        self.reserved.discard(counter)
        return lines

    def if_chain(self, depth: int) -> list[str]:
        lines = [f"if {self.condition()}:"] + _indent(self.body(depth))
        for _ in range(self.choice([0, 1, 1, 2])):
            lines += [f"elif {self.condition()}:"] + _indent(self.body(depth))
        if self.rng.random() < 0.6:
            lines += ["else:"] + _indent(self.body(depth))
        return lines

    def with_open(self, depth: int) -> list[str]:
        handle = self.choice(["f", "f", "fh", "handle", "infile"])
        path = self.choice([self.name(), "path", f"{self.quote()}{self.choice(FILE_NAMES)}"])
        if path.startswith(("'", '"')):
            path += path[0]
        if self.rng.random() < 0.75:
            header = f"with open({path}) as {handle}:"
            target = self.name()
            body = self.choice(
                [
                    [f"{target} = {handle}.read()"],
                    [f"{target} = {handle}.read().splitlines()"],
                    [f"for line in {handle}:", f"{INDENT}{target}.append(line.strip())"],
                    [f"{target} = [line.rstrip() for line in {handle}]"],
                    [f"{target} = {handle}.readlines()", f"print(len({target}))"],
                ]
            )
        else:
            q = self.quote()
            header = f"with open({path}, {q}w{q}) as {handle}:"
            body = [f"{handle}.write({self.choice([self.string(), self.fstring(), f'str({self.name()})'])})"]
        if self.rng.random() < 0.3:
            body += self.simple_statement()
        return [header] + _indent(body)

    def set_pattern(self, depth: int) -> list[str]:
        return self._grown("set()", "add", ("x", "item", "word", "key"))

    def list_pattern(self, depth: int) -> list[str]:
        return self._grown("[]", "append", ("x", "item", "line", "row"))

    def _grown(self, empty: str, method: str, loop_vars: tuple[str, ...]) -> list[str]:
        """`var = <empty>`, unrelated lines, then `var.<method>(...)`: once, or in a loop."""
        var = self.tracked_name()
        self.reserved.add(var)
        lines = [f"{var} = {empty}"] + self.fillers(1, 3)
        if self.rng.random() < 0.5:
            lines.append(f"{var}.{method}({self.atom()})")
        else:
            loop_var = self.choice([v for v in loop_vars if v != var])
            lines += [f"for {loop_var} in {self.name()}:", f"{INDENT}{var}.{method}({loop_var})"]
        self.reserved.discard(var)
        return lines

    def string_pattern(self, depth: int) -> list[str]:
        var = self.tracked_name()
        self.reserved.add(var)
        q = self.quote()
        lines = [f"{var} = {q}{q}"] + self.fillers(1, 3)
        if self.rng.random() < 0.6:
            lines.append(f"{var} += {self.string()}")
        else:
            loop_var = self.choice([v for v in ("x", "item", "word", "part") if v != var])
            lines += [f"for {loop_var} in {self.name()}:", f"{INDENT}{var} += {self.string()}"]
        self.reserved.discard(var)
        return lines

    def try_block(self, depth: int) -> list[str]:
        error = self.choice(["ValueError", "KeyError", "TypeError", "OSError", "IndexError"])
        handler = self.choice([[f"print({self.string()})"], ["pass"], [f"{self.name()} = None"]])
        return ["try:"] + _indent(self.body(depth)) + [f"except {error}:"] + _indent(handler)

    # -- top-level definitions ----------------------------------------------

    def function_def(self) -> list[str]:
        function = self.choice(FUNCTION_NAMES)
        positional = self.rng.sample(NAMES, self.randint(0, 2))
        keywords = self.rng.sample([k for k in KWARG_NAMES if k not in positional], self.randint(1, 3))
        params = positional + [f"{k}={self.kwarg_value()}" for k in keywords]
        lines = [f"def {function}({', '.join(params)}):"]
        inner = []
        if self.rng.random() < 0.4:
            inner.append(f'"""{self.text().capitalize()}."""')
        inner += self.body(1)
        inner.append(f"return {self.return_value()}")
        lines += _indent(inner)
        lines += ["", "", f"{self.name()} = {function}({', '.join(self.call_args(positional, keywords))})"]
        return lines

    def call_args(self, positional: list[str], keywords: list[str]) -> list[str]:
        args = [self.atom() for _ in positional]
        chosen = self.rng.sample(keywords, self.randint(1, len(keywords)))
        return args + [f"{k}={self.kwarg_value()}" for k in chosen]

    def return_value(self) -> str:
        makers = [
            self.string,
            self.name,
            self.fstring,
            self.dict_literal,
            lambda: self.nested_list(1),
            self.expression,
        ]
        return self.choice(makers)()

    def class_def(self) -> list[str]:
        cls = self.choice(CLASS_NAMES)
        fields = self.rng.sample(NAMES, self.randint(1, 3))
        default_key = self.choice([k for k in KWARG_NAMES if k not in fields])
        init = [f"def __init__(self, {', '.join(fields)}, {default_key}={self.kwarg_value()}):"]
        init += _indent(
            [f"self.{field} = {field}" for field in fields] + [f"self.{default_key} = {default_key}"]
        )
        method = self.choice(FUNCTION_NAMES)
        arg = self.name()
        body = [
            f"if self.{fields[0]} == {arg}:",
            f"{INDENT}return {self.string()}",
            f"return self.{self.choice(fields)}",
        ]
        method_lines = [f"def {method}(self, {arg}):"] + _indent(body)
        lines = [f"class {cls}:"]
        if self.rng.random() < 0.4:
            lines += _indent([f'"""A {self.choice(WORDS)} {cls.lower()}."""'])
        lines += _indent(init + [""] + method_lines)
        call = f"{cls}({', '.join(self.atom() for _ in fields)}, {default_key}={self.kwarg_value()})"
        obj = self.name()
        lines += ["", "", f"{obj} = {call}", f"print({obj}.{method}({self.atom()}))"]
        return lines

    def main_guard(self) -> list[str]:
        return ['if __name__ == "__main__":'] + _indent(self.body(1))

    def top_level_block(self, room: int) -> list[str]:
        # Definitions run to 10+ lines; with little room left, try smaller blocks.
        roll = self.rng.random() * (0.65 if room < 12 else 1.0)
        if roll < 0.3:
            return self.simple_statement()
        if roll < 0.65:
            return self.compound_statement(0)
        if roll < 0.85:
            return self.function_def()
        return self.class_def()

    # -- whole programs -----------------------------------------------------

    def header(self) -> list[str]:
        lines = []
        if self.rng.random() < 0.2:
            lines.append(
                f'"""{self.text().capitalize()} '
                f'{self.choice(["helpers", "script", "utilities", "example"])}."""'
            )
        imports = self.rng.sample(IMPORTS, self.choice([0, 0, 1, 1, 2, 3]))
        lines += sorted(imports)
        if lines:
            lines.append("")
        return lines

    def program(self) -> str:
        lines = self.header()
        target = self.randint(8, MAX_PROGRAM_LINES - 4)
        attempts = 0
        while len(lines) < target and attempts < 20:
            attempts += 1
            block = self.top_level_block(MAX_PROGRAM_LINES - len(lines))
            if _is_definition(block) and lines:
                block = [""] * (2 - _trailing_blank_lines(lines)) + block
            if len(lines) + len(block) > MAX_PROGRAM_LINES:
                continue
            lines += block
        if self.rng.random() < 0.15:
            guard = [""] * (2 - _trailing_blank_lines(lines)) + self.main_guard()
            if len(lines) + len(guard) <= MAX_PROGRAM_LINES:
                lines += guard
        while len(lines) < MIN_PROGRAM_LINES:
            lines += self.simple_statement()
        return "\n".join(lines) + "\n"


def _is_definition(block: list[str]) -> bool:
    return block[0].startswith(("def ", "class "))


def _trailing_blank_lines(lines: list[str]) -> int:
    count = 0
    for line in reversed(lines):
        if line:
            break
        count += 1
    return count
