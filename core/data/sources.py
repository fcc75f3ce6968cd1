"""From a corpus choice to a tokenizer and a token stream, ready for training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .corpus import embedded_corpus, load_corpus_dir, resources_dir
from .stream import TokenStream
from .tokenizer import Tokenizer

DEFAULT_VOCAB_SIZE = 2048


def default_tokenizer_path() -> Path:
    return resources_dir() / "tokenizer.json"


def default_tokenizer() -> Tokenizer:
    """The byte-level BPE (2048 tokens) trained on the embedded corpus, shipped in resources/."""
    path = default_tokenizer_path()
    if path.is_file():
        return Tokenizer.load(path)
    return Tokenizer.train(embedded_corpus(), DEFAULT_VOCAB_SIZE)


@dataclass
class TrainingData:
    stream: TokenStream
    tokenizer: Tokenizer
    description: str  # what was read, for the user
    n_skipped: int = 0


def load_training_data(
    corpus_dir: str | Path | None = None,
    tokenizer: Tokenizer | None = None,
    vocab_size: int = DEFAULT_VOCAB_SIZE,
    n_generated: int = 20000,
) -> TrainingData:
    """The embedded corpus with the shipped tokenizer, or a user's folder of .py files with a
    tokenizer trained on it (unless one is given, as when resuming). `n_generated` sets how
    many generated programs the embedded corpus holds (fewer loads faster, for sampling)."""
    if corpus_dir is None:
        docs, skipped = embedded_corpus(n_generated), 0
        tokenizer = tokenizer or default_tokenizer()
        description = f"embedded corpus ({len(docs)} documents)"
    else:
        docs, skipped = load_corpus_dir(corpus_dir)
        tokenizer = tokenizer or Tokenizer.train(docs, vocab_size)
        description = f"{corpus_dir} ({len(docs)} files, {skipped} skipped)"
    stream = TokenStream.from_documents(docs, tokenizer)
    return TrainingData(stream, tokenizer, f"{description}, {len(stream):,} tokens", skipped)
