"""Model configuration: every option of OpenAI circuit_sparsity's GPTConfig, plus ours."""

from __future__ import annotations

import dataclasses
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
        except TypeError as e:
            raise ConfigError(f"{source}: {e}") from None
