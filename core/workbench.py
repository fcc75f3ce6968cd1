"""A model opened for circuit work: checkpoint, tokenizer, corpus stream and mean activations,
each loaded once and only when first needed."""

from __future__ import annotations

from collections.abc import Generator
from functools import cached_property
from pathlib import Path

import torch

from .data.corpus import read_code_archive, resources_dir
from .data.sources import load_training_data
from .data.stream import TokenStream
from .data.token_ids import TokenIds
from .formats import Checkpoint, iter_load_checkpoint, load_checkpoint
from .means import iter_load_or_compute_means, load_or_compute_means
from .provenance import fingerprint
from .taskeval import TaskBatch, task_batch
from .tasks import Task

OPENAI_MEANS_CORPUS = "python standard library (embedded), model tokenizer"


def default_model_dir() -> Path:
    return resources_dir() / "default_model"


def resolve_model_path(path: str | Path) -> Path:
    """`default` means the shipped model."""
    return default_model_dir() if str(path) == "default" else Path(path)


class Workbench:
    def __init__(
        self,
        path: str | Path,
        device: str | torch.device = "cpu",
        tokenizer=None,
        sparse: bool | None = False,
        checkpoint: Checkpoint | None = None,
    ):
        """`tokenizer`: an OpenAI model's tinypython folder, when it is not beside or above it.
        `sparse`: hold the weights as CSR (core/sparse.py), as load_checkpoint's. `checkpoint`:
        the one at `path`, already read (see `iter_open`)."""
        self.checkpoint: Checkpoint = checkpoint or load_checkpoint(
            resolve_model_path(path), device, tokenizer, sparse
        )
        # Read-only weights: background jobs (pruning, sampling, ablation effects) and the GUI
        # run this one model object at once, each with its own hooks (core/hooks.py).
        self.model = self.checkpoint.model.eval().requires_grad_(False)
        self.tokenizer = self.checkpoint.tokenizer
        if self.tokenizer is None and self.is_openai:
            # Its tinypython folder is not at hand: token ids, never another tokenizer's text.
            self.tokenizer = TokenIds(self.model.config.vocab_size)
        if self.tokenizer is None:
            raise ValueError(f"{self.checkpoint.path}: no tokenizer.json in the checkpoint folder")
        if self.tokenizer.vocab_size > self.model.config.vocab_size:
            raise ValueError(
                f"{self.checkpoint.path}: the tokenizer has {self.tokenizer.vocab_size} tokens, "
                f"more than the model's vocabulary of {self.model.config.vocab_size}"
            )
        self.device = torch.device(device)

    @classmethod
    def iter_open(
        cls, path, device: str | torch.device = "cpu", tokenizer=None, sparse: bool | None = False
    ) -> Generator[tuple[int, int], None, Workbench]:
        """Yields (tensors read, of all) while a big model's weights are read, then returns it."""
        ckpt = yield from iter_load_checkpoint(resolve_model_path(path), device, tokenizer, sparse)
        return cls(path, device, tokenizer, sparse, checkpoint=ckpt)

    @property
    def name(self) -> str:
        return str(self.checkpoint.path)

    @property
    def ref(self) -> str:
        """How circuits and workspaces name this model: `default`, or its folder."""
        default = default_model_dir().resolve()
        return "default" if Path(self.checkpoint.path).resolve() == default else self.name

    @cached_property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.model)

    @property
    def reads_text(self) -> bool:
        """False when the model's tokenizer is not at hand: prompts and outputs are token ids,
        and what needs text in its tokenization (mean activations, tasks, the corpus) is refused."""
        return not isinstance(self.tokenizer, TokenIds)

    def _needs_text(self, what: str) -> None:
        if not self.reads_text:
            raise ValueError(
                f"{self.checkpoint.path}: {what} need Python text in the model's own tokenization, "
                f"and its tokenizer (a tinypython folder: encoder.json + vocab.bpe) is not at hand. "
                f"Name it with --tokenizer DIR, or reopen the model in the app and choose it"
            )

    @property
    def is_openai(self) -> bool:
        return self.checkpoint.meta.get("source_format") == "openai-circuit-sparsity"

    @property
    def corpus_description(self) -> str:
        """What the model's mean activations are taken over (recorded in its circuits)."""
        if self.is_openai:
            return OPENAI_MEANS_CORPUS
        corpus = self.checkpoint.meta.get("corpus")
        return corpus if corpus and Path(corpus).is_dir() else "embedded corpus"

    def stream(self, quick: bool = False) -> TokenStream:
        """The corpus the model was trained on; `quick`: a tenth of the embedded corpus's
        generated programs, enough to sample activations from in a second. An OpenAI model
        was trained on real Python: it gets the standard-library part of the embedded corpus,
        in its own tokenization, never our synthetic task-like programs."""
        self._needs_text("the corpus's activations")
        if self.is_openai:
            docs = [text for _name, text in read_code_archive()]
            return TokenStream.from_documents(docs, self.tokenizer)
        corpus = self.checkpoint.meta.get("corpus")
        if corpus and not Path(corpus).is_dir():
            corpus = None  # the user's folder is gone: fall back to the embedded corpus
        return load_training_data(
            corpus, tokenizer=self.tokenizer, n_generated=2000 if quick else 20000
        ).stream

    @cached_property
    def means(self) -> dict[str, torch.Tensor]:
        """Cached beside the checkpoint (computed and written there the first time, when the
        folder is writable)."""
        self._needs_text("mean activations")
        return load_or_compute_means(self.model, self.checkpoint.path, self.stream, self._means_source)

    @torch.no_grad()
    def warm_up(self) -> None:
        """One short forward pass: torch's first call of a model is several times slower than
        the next ones."""
        self.model(torch.zeros(1, min(8, self.model.config.block_size), dtype=torch.long, device=self.device))

    def iter_means(self):
        """Read or compute the means, yielding (batches done, of all) while computing; none
        for a model read as token ids."""
        if "means" not in self.__dict__ and self.reads_text:
            self.__dict__["means"] = yield from iter_load_or_compute_means(
                self.model, self.checkpoint.path, self.stream, self._means_source
            )

    @property
    def _means_source(self) -> str | None:
        """Required of a cached means file (None: any cache of the right shape will do; our
        own models' means were always taken over their training corpus)."""
        return OPENAI_MEANS_CORPUS if self.is_openai else None

    def batch(self, task: Task, n: int = 256, split: str = "train", seed: int = 0) -> TaskBatch:
        self._needs_text("tasks' examples")
        return task_batch(task, self.tokenizer, self.model.config.block_size, n, split, seed).to(self.device)
