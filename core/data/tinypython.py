"""OpenAI's tinypython_2k tokenizer, the one circuit_sparsity's models read Python through:
GPT-2-format files (encoder.json + vocab.bpe) with its own pre-tokenizer regex, run by tiktoken.

OpenAI's storage keeps it as `tinypython/{encoder.json,vocab.bpe}` beside `models/NAME/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import tiktoken

from .gpt2_format import read_gpt2_format
from .tokenizer import TokenizerError

# Not GPT-2's: `.add`, `]]\n` and runs of digits split differently.
TINYPYTHON_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
ENDOFTEXT = "<|endoftext|>"
FOLDER_NAME = "tinypython"
FILES = ("encoder.json", "vocab.bpe")


class TinyPythonTokenizer:
    """The interface of core.data.tokenizer.Tokenizer (without saving: the files are the
    format). `encode` reads `<|endoftext|>` in a text as ordinary characters."""

    def __init__(self, ranks: dict[bytes, int], specials: dict[str, int], source: Path | None = None):
        self.source = source
        self._enc = tiktoken.Encoding(
            "tinypython", pat_str=TINYPYTHON_PATTERN, mergeable_ranks=ranks, special_tokens=specials
        )

    @property
    def vocab_size(self) -> int:
        return self._enc.n_vocab

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self._enc.encode_ordinary_batch(texts, num_threads=min(8, os.cpu_count() or 1))

    def decode(self, ids: Iterable[int]) -> str:
        return self._enc.decode(list(ids))

    def token_text(self, token_id: int) -> str:
        """The text one token stands for; bytes that are part of a UTF-8 character show as
        `\\xNN`, an id no token has as `<id N>`."""
        try:
            raw = self._enc.decode_single_token_bytes(int(token_id))
        except (KeyError, OverflowError, ValueError):
            return f"<id {token_id}>"
        return raw.decode("utf-8", errors="backslashreplace")

    def token_id(self, text: str) -> int | None:
        """The id of a single token spelling exactly `text`, or None."""
        ids = self.encode(text)
        return ids[0] if len(ids) == 1 else None


def load_tokenizer(folder: str | os.PathLike) -> TinyPythonTokenizer:
    """A tinypython-format tokenizer from a folder holding encoder.json and vocab.bpe."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TokenizerError(f"{folder}: not a folder (expected one holding {' and '.join(FILES)})")
    missing = [name for name in FILES if not (folder / name).exists()]
    if missing:
        raise TokenizerError(
            f"{folder}: no {' or '.join(missing)} there "
            f"(a tinypython tokenizer folder holds {' and '.join(FILES)})"
        )
    ranks, specials = read_gpt2_format(folder / "encoder.json", folder / "vocab.bpe")
    specials.setdefault(ENDOFTEXT, len(ranks))
    return TinyPythonTokenizer(ranks, specials, folder)


def find_tokenizer_dir(model_folder: Path) -> Path | None:
    """Where an OpenAI model's tokenizer lives: encoder.json + vocab.bpe in the model's own
    folder, else a `tinypython/` folder in it or in the nearest parent folder that has one."""
    model_folder = Path(model_folder).resolve()
    if all((model_folder / name).is_file() for name in FILES):
        return model_folder
    for folder in (model_folder, *model_folder.parents):
        candidate = folder / FOLDER_NAME
        if candidate.is_dir() and any((candidate / name).exists() for name in FILES):
            return candidate
    return None
