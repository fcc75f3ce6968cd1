"""Byte-level BPE tokenizer (GPT-2 style) trained on a corpus: ours, saved as tokenizer.json.

OpenAI's tinypython_2k, read from GPT-2-format files, is core/data/tinypython.py."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer as _HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from ..fileio import FileFormatError, atomic_write_text, check_size


class TokenizerError(FileFormatError):
    """A tokenizer file that cannot be read; the message names the file."""


class Tokenizer:
    """Encodes text to token ids and back. Every byte sequence is encodable."""

    def __init__(self, hf: _HFTokenizer):
        self._hf = hf

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 2048) -> "Tokenizer":
        hf = _HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=2,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        hf.train_from_iterator(texts, trainer=trainer)
        return cls(hf)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        path = Path(path)
        check_size(path, 64 << 20)
        try:
            return cls(_HFTokenizer.from_file(str(path)))
        except Exception as e:  # the library's errors are untyped strings
            raise TokenizerError(f"{path}: not a valid tokenizer.json ({e})") from None

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_text(Path(path), self._hf.to_str())

    def to_str(self) -> str:
        return self._hf.to_str()

    @property
    def vocab_size(self) -> int:
        return self._hf.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._hf.encode(text).ids

    def encode_batch(self, texts: list[str], chunk: int = 256) -> list[list[int]]:
        # In chunks: the library holds Python's lock while it hands a batch's results back
        # (~0.4 s for 20,000 documents), which would freeze a GUI thread waiting on it.
        out = []
        for start in range(0, len(texts), chunk):
            out += [e.ids for e in self._hf.encode_batch(texts[start : start + chunk])]
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return self._hf.decode(list(ids))

    def token_text(self, token_id: int) -> str:
        """The text one token stands for (bytes shown as they decode)."""
        return self._hf.decode([token_id])

    def token_id(self, text: str) -> int | None:
        """The id of a single token spelling exactly `text`, or None."""
        ids = self.encode(text)
        return ids[0] if len(ids) == 1 else None
