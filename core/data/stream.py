"""Token streams and deterministic training batches.

The batch for a step depends only on (seed, step), so a resumed run sees exactly the data an
unbroken run would have seen.
"""

from __future__ import annotations

import numpy as np
import torch

from .tokenizer import Tokenizer


class TokenStream:
    """One long array of token ids (documents joined by blank lines), split train/validation."""

    def __init__(self, ids: np.ndarray, val_fraction: float = 0.05):
        if ids.ndim != 1:
            raise ValueError("token ids must be one-dimensional")
        self.ids = ids
        n_val = int(len(ids) * val_fraction)
        self.train_ids = ids[: len(ids) - n_val]
        self.val_ids = ids[len(ids) - n_val :]

    @classmethod
    def from_documents(cls, docs: list[str], tokenizer: Tokenizer, val_fraction: float = 0.05):
        separator = tokenizer.encode("\n\n")
        # A fixed shuffle, so that the validation tail samples every kind of document.
        order = np.random.default_rng(0).permutation(len(docs))
        encoded = tokenizer.encode_batch([docs[i] for i in order])
        # Joined a few hundred documents at a time: one concatenate of every document holds
        # Python's lock long enough to freeze a GUI thread.
        chunks = []
        for start in range(0, len(encoded), 256):
            parts = []
            for ids in encoded[start : start + 256]:
                parts += [np.asarray(ids, dtype=np.int32), np.asarray(separator, dtype=np.int32)]
            chunks.append(np.concatenate(parts))
        ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
        return cls(ids, val_fraction)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, step: int, batch_size: int, seq_len: int, seed: int, split: str = "train"):
        """(inputs, targets) int64 tensors [batch_size, seq_len] for one step."""
        data = self.train_ids if split == "train" else self.val_ids
        if len(data) < seq_len + 2:
            raise ValueError(
                f"{split} split has {len(data)} tokens, fewer than one sequence "
                f"of {seq_len + 1}; use a larger corpus or a shorter sequence"
            )
        rng = np.random.default_rng([seed, step, 0 if split == "train" else 1])
        starts = rng.integers(0, len(data) - seq_len - 1, size=batch_size)
        windows = np.stack([data[s : s + seq_len + 1] for s in starts]).astype(np.int64)
        t = torch.from_numpy(windows)
        return t[:, :-1], t[:, 1:]
