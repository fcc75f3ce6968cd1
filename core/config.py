"""Model configuration: every option of OpenAI circuit_sparsity's GPTConfig, plus ours."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

# Where AbsTopK activation sparsity may be applied (OpenAI's `afrac_loctypes`).
ACTIVATION_SPARSITY_LOCATIONS = (
    "attn_in",
    "attn_out",
    "mlp_in",
    "mlp_out",
    "attn_q",
    "attn_k",
    "attn_v",
    "mlp_neuron",
    "resid_post_attn",
    "resid_post_mlp",
)


class ConfigError(ValueError):
    """A model configuration that cannot be built; the message names the field."""


# Sizes beyond any model of the paper's family by orders of magnitude: a config asking for more
# is refused before anything is allocated, naming the field.
FIELD_LIMITS = {
    "block_size": 1 << 16,
    "vocab_size": 1 << 20,
    "n_layer": 1024,
    "n_head": 8192,
    "d_model": 1 << 16,
    "d_head": 1 << 14,
    "d_mlp": 1 << 18,
    "d_pos_emb": 1 << 16,
}


@dataclass
class GPTConfig:
    block_size: int = 256
    vocab_size: int = 2048
    n_layer: int = 2
    n_head: int = 8
    d_model: int = 128
    d_head: int | None = None  # defaults to d_model // n_head
    d_mlp: int | None = None  # defaults to 4 * d_model
    dropout: float = 0.0
    bias: bool = False  # bias in the linear layers
    ln_bias: bool = False  # bias in LayerNorm (ignored with RMSNorm)
    rms_norm: bool = True
    residual_activation_type: str = "identity"  # or "relu"
    activation_type: str = "gelu"  # or "relu"
    afrac: float | None = 0.25  # AbsTopK: fraction of activations kept
    afrac_loctypes: str = "attn_in,attn_out,mlp_in,mlp_out"
    tied_unembed: bool = False
    enable_bigram_table: bool = True
    learnable_bigram_table: bool = False
    learned_pos_emb: bool = True  # ours: False means no position embedding at all
    d_pos_emb: int | None = None  # concatenated position embeddings of this width
    dropout_cat_pos_emb: bool = False
    sinusoidal_cat_pos_emb: bool = False
    sink: bool = True  # attention sink (a learned logit per head)
    tokenizer_name: str = "default"

    def __post_init__(self):
        if self.d_mlp is None:
            self.d_mlp = 4 * self.d_model
        if self.d_head is None:
            if self.d_model % self.n_head:
                raise ConfigError(
                    f"d_model ({self.d_model}) is not divisible by n_head ({self.n_head}); set d_head"
                )
            self.d_head = self.d_model // self.n_head
        for name in ("block_size", "vocab_size", "n_layer", "n_head", "d_model", "d_head", "d_mlp"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name, limit in FIELD_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, int) and value > limit:
                raise ConfigError(f"field {name!r}: {value:,} is more than the limit of {limit:,}")
        if self.residual_activation_type not in ("identity", "relu"):
            raise ConfigError(
                f"residual_activation_type must be identity or relu, got {self.residual_activation_type!r}"
            )
        if self.activation_type not in ("gelu", "relu"):
            raise ConfigError(f"activation_type must be gelu or relu, got {self.activation_type!r}")
        if self.afrac is not None and not 0 < self.afrac <= 1:
            raise ConfigError(f"afrac must be in (0, 1], got {self.afrac!r}")
        unknown = set(self.sparse_locations) - set(ACTIVATION_SPARSITY_LOCATIONS)
        if unknown:
            raise ConfigError(f"afrac_loctypes has unknown locations: {', '.join(sorted(unknown))}")
        if self.d_pos_emb is not None and self.d_pos_emb < 1:
            raise ConfigError(f"d_pos_emb must be positive, got {self.d_pos_emb!r}")

    def n_params(self) -> int:
        """How many parameters a model of this config has (worked out, not allocated)."""
        d_in, attn = self.d_model_in, self.n_head * self.d_head
        per_layer = d_in * 3 * attn + attn * self.d_model + d_in * self.d_mlp + self.d_mlp * self.d_model
        n = self.n_layer * per_layer + self.vocab_size * self.d_model
        n += self.block_size * (self.d_pos_emb or (self.d_model if self.learned_pos_emb else 0))
        n += 0 if self.tied_unembed else self.vocab_size * self.d_model
        n += self.vocab_size * self.vocab_size if self.enable_bigram_table else 0
        norm_width = self.d_model * (2 if self.ln_bias and not self.rms_norm else 1)
        n += (2 * self.n_layer + 1) * norm_width + (self.n_layer * self.n_head if self.sink else 0)
        if self.bias:
            n += self.n_layer * (3 * attn + 2 * self.d_model + self.d_mlp)
        return n

    @property
    def sparse_locations(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.afrac_loctypes.split(",") if s.strip())

    @property
    def cat_pos_emb(self) -> bool:
        return self.d_pos_emb is not None

    @property
    def d_model_in(self) -> int:
        """Width read by attention and MLP: the residual, plus concatenated positions."""
        return self.d_model + (self.d_pos_emb or 0)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "GPTConfig":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ConfigError(f"{source}: unknown config fields: {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except (TypeError, ConfigError) as e:
            raise ConfigError(f"{source}: {e}") from None


def check_fits_in_memory(config: GPTConfig, source: str, memory_bytes: int | None = None) -> None:
    """Refuse, before building it, a model whose float32 weights exceed this machine's memory."""
    memory_bytes = memory_bytes if memory_bytes is not None else physical_memory()
    need = 4 * config.n_params()
    if memory_bytes and need > memory_bytes:
        raise ConfigError(
            f"{source}: the model has {config.n_params():,} parameters ({need / 2**30:,.1f} GiB as "
            f"float32), more than this machine's {memory_bytes / 2**30:,.1f} GiB of memory (n_layer "
            f"{config.n_layer}, d_model {config.d_model}, d_mlp {config.d_mlp}, vocab {config.vocab_size})"
        )


def physical_memory() -> int | None:
    """Bytes of RAM, where the system says (Linux, macOS); None elsewhere."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
