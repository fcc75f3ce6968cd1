"""Sparse Circuits core: weight-sparse GPTs, their training, pruning and analysis. No Qt."""

from .config import GPTConfig
from .data.tinypython import load_tokenizer
from .formats import Checkpoint, load_checkpoint, load_model
from .model import GPT

__all__ = ["GPT", "GPTConfig", "Checkpoint", "load_checkpoint", "load_model", "load_tokenizer"]
