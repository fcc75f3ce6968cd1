"""Token ids written out, for a model whose tokenizer is not at hand (one of OpenAI's models
without its tinypython folder). Nothing is read through another tokenizer: that would feed
the model tokens other than the ones it was trained on. A prompt is its ids separated by
spaces or commas (`12 7, 2047`), and each token shows as `#id`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .tokenizer import TokenizerError

NO_TOKENIZER = (
    "this model has no tokenizer here, so it shows token ids and reads a prompt as ids (e.g. 12 7 2047)"
)
NO_MEANS = (
    "mean ablation needs the model's mean activations, taken over Python text in its own "
    "tokenization, and its tokenizer is not at hand: ablate to zero, or reopen the model with "
    "its tinypython folder"
)
_SEPARATORS = re.compile(r"[\s,]+")


class TokenIds:
    """The interface of core.data.tokenizer.Tokenizer over ids alone."""

    source = None

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in _SEPARATORS.split(text.strip()):
            if not piece:
                continue
            if not piece.isdigit() or int(piece) >= self.vocab_size:
                raise TokenizerError(
                    f"{piece!r} is not a token id of this model (0 to {self.vocab_size - 1}): {NO_TOKENIZER}"
                )
            ids.append(int(piece))
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(str(int(i)) for i in ids)

    def token_text(self, token_id: int) -> str:
        return f"#{int(token_id)}"

    def token_id(self, text: str) -> int | None:
        """The id `text` names (`12` or `#12`), or None."""
        text = text.strip().removeprefix("#")
        return int(text) if text.isdigit() and int(text) < self.vocab_size else None
