"""The weight-sparse GPT of Gao et al. 2025, option for option as OpenAI's circuit_sparsity.

A token flows: embeddings -> blocks (attention, then MLP, each read through a norm and written
back to the residual stream) -> final norm -> unembedding (+ final logits bias + bigram table).
Every node location passes through a named `HookPoint`.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import causal_attention
from .config import GPTConfig
from .hooks import HookPoint, HookRegistry, LinearHook, NormInputHook
from .sparse import SparseLinear
from .sparsity import abs_topk
from .topology import FINAL_HOOK, LINEARS, SITES, STREAM_HOOKS, SUBLAYERS, Topology


def make_norm(config: GPTConfig, width: int) -> nn.Module:
    if config.rms_norm:
        return RMSNorm(width)
    return nn.LayerNorm(width, eps=1e-5, bias=config.ln_bias)


class RMSNorm(nn.RMSNorm):
    """torch's RMSNorm, which on a tensor stored by feature (a sparse model's activations on
    CPU, core/sparse.py) keeps that layout: its fused kernel would copy the input into rows by
    token, at four times the cost, and hand the next sparse layer rows it must copy back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.stride(-1) == 1 or x.dim() < 2:
            return super().forward(x)
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight


class ActivationSparsity(nn.Module):
    """AbsTopK at one location type, if the config asks for it there."""

    def __init__(self, config: GPTConfig, loctype: str):
        super().__init__()
        self.afrac = config.afrac if loctype in config.sparse_locations else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.afrac is None:
            return x
        return abs_topk(x, int(self.afrac * x.shape[-1]))


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig, hooks: HookRegistry):
        super().__init__()
        self.n_head, self.d_head = config.n_head, config.d_head
        width = config.n_head * config.d_head
        self.c_attn = nn.Linear(config.d_model_in, 3 * width, bias=config.bias)
        self.c_proj = nn.Linear(width, config.d_model, bias=config.bias)
        self.dropout = config.dropout
        self.sink_logit = nn.Parameter(torch.zeros(config.n_head)) if config.sink else None
        self.sparse_in = ActivationSparsity(config, "attn_in")
        self.sparse_q = ActivationSparsity(config, "attn_q")
        self.sparse_k = ActivationSparsity(config, "attn_k")
        self.sparse_v = ActivationSparsity(config, "attn_v")
        self.sparse_out = ActivationSparsity(config, "attn_out")
        self.hook_act_in = HookPoint(hooks)
        self.hook_q = HookPoint(hooks)
        self.hook_k = HookPoint(hooks)
        self.hook_v = HookPoint(hooks)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        if pos is not None:
            x = torch.cat([x, pos.expand(x.shape[0], -1, -1)], dim=-1)
        B, T, _ = x.shape
        x = self.hook_act_in(self.sparse_in(x))
        q, k, v = self.c_attn(x).split(self.n_head * self.d_head, dim=2)
        k = self.hook_k(self.sparse_k(k))
        q = self.hook_q(self.sparse_q(q))
        v = self.hook_v(self.sparse_v(v))
        q, k, v = (self._heads(t) for t in (q, k, v))
        dropout = self.dropout if self.training else 0.0
        scale = 1.0 / math.sqrt(self.d_head)
        y = causal_attention(q, k, v, self.sink_logit, dropout, scale)
        return self.sparse_out(self.c_proj(self._merge_heads(y, by_feature=x.stride(-1) != 1)))

    def _merge_heads(self, y: torch.Tensor, by_feature: bool) -> torch.Tensor:
        """[B, heads, T, d_head] -> [B, T, heads * d_head], stored by token, or by feature where
        the block's input is (a sparse model on CPU: the one copy is then the one c_proj reads)."""
        B, _, T, _ = y.shape
        if by_feature:
            return y.permute(0, 1, 3, 2).contiguous().view(B, -1, T).transpose(1, 2)
        return y.transpose(1, 2).contiguous().view(B, T, -1)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        """[B, T, heads * d_head] -> [B, heads, T, d_head], each head's vectors contiguous: the
        fused attention kernel needs that, and a sparse layer's output is stored by feature
        (core/sparse.py), which would send attention down the slow unfused path."""
        B, T, _ = t.shape
        t = t.view(B, T, self.n_head, self.d_head).transpose(1, 2)
        return t if t.stride(-1) == 1 else t.contiguous()


class MLP(nn.Module):
    def __init__(self, config: GPTConfig, hooks: HookRegistry):
        super().__init__()
        self.c_fc = nn.Linear(config.d_model_in, config.d_mlp, bias=config.bias)
        self.act_fn = nn.GELU() if config.activation_type == "gelu" else nn.ReLU()
        self.c_proj = nn.Linear(config.d_mlp, config.d_model, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)
        self.sparse_in = ActivationSparsity(config, "mlp_in")
        self.sparse_neuron = ActivationSparsity(config, "mlp_neuron")
        self.sparse_out = ActivationSparsity(config, "mlp_out")
        self.hook_act_in = HookPoint(hooks)
        self.hook_post_act = HookPoint(hooks)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        if pos is not None:
            x = torch.cat([x, pos.expand(x.shape[0], -1, -1)], dim=-1)
        x = self.hook_act_in(self.sparse_in(x))
        x = self.hook_post_act(self.sparse_neuron(self.act_fn(self.c_fc(x))))
        return self.sparse_out(self.dropout(self.c_proj(x)))


class Block(nn.Module):
    def __init__(self, config: GPTConfig, hooks: HookRegistry):
        super().__init__()
        self.ln_1 = make_norm(config, config.d_model)
        self.attn = CausalSelfAttention(config, hooks)
        self.ln_2 = make_norm(config, config.d_model)
        self.mlp = MLP(config, hooks)
        if config.cat_pos_emb:
            self.ln_p1 = make_norm(config, config.d_pos_emb)
            self.ln_p2 = make_norm(config, config.d_pos_emb)
        self.relu_resid = config.residual_activation_type == "relu"
        self.sparse_post_attn = ActivationSparsity(config, "resid_post_attn")
        self.sparse_post_mlp = ActivationSparsity(config, "resid_post_mlp")
        self.hook_resid_in = HookPoint(hooks)
        self.hook_attn_resid_delta = HookPoint(hooks)
        self.hook_resid_mid = HookPoint(hooks)
        self.hook_mlp_resid_delta = HookPoint(hooks)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        x = self.hook_resid_in(x)
        x = x + self.hook_attn_resid_delta(self.attn(self.ln_1(x), self._norm_pos("ln_p1", pos)))
        x = self.sparse_post_attn(torch.relu(x) if self.relu_resid else x)
        x = self.hook_resid_mid(x)
        x = x + self.hook_mlp_resid_delta(self.mlp(self.ln_2(x), self._norm_pos("ln_p2", pos)))
        return self.sparse_post_mlp(torch.relu(x) if self.relu_resid else x)

    def _norm_pos(self, norm_name: str, pos: torch.Tensor | None) -> torch.Tensor | None:
        """Concatenated position embeddings, through this block's own norm for them."""
        return None if pos is None else getattr(self, norm_name)(pos)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.topology = Topology(config)
        self.hook_registry = HookRegistry()
        modules = dict(
            wte=nn.Embedding(config.vocab_size, config.d_model),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config, self.hook_registry) for _ in range(config.n_layer)]),
            ln_f=make_norm(config, config.d_model),
        )
        if config.learned_pos_emb or config.cat_pos_emb:
            modules["wpe"] = nn.Embedding(config.block_size, config.d_pos_emb or config.d_model)
        self.transformer = nn.ModuleDict(modules)
        self.hook_final_resid = HookPoint(self.hook_registry)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.register_buffer("final_logits_bias", torch.zeros(config.vocab_size))
        if not config.enable_bigram_table:
            self.bigram_table = None
        elif config.learnable_bigram_table:
            self.bigram_table = nn.Parameter(torch.zeros(config.vocab_size, config.vocab_size))
        else:
            self.register_buffer("bigram_table", torch.zeros(config.vocab_size, config.vocab_size))
        if config.tied_unembed:
            self.transformer.wte.weight = self.lm_head.weight
        self._name_hook_points()
        self._init_weights()

    def _name_hook_points(self):
        """Name every hook point from the topology's table, and let hooks reach the linear
        layers and the norms that edges run through."""
        self.hook_points: dict[str, HookPoint] = {}
        paths = {**STREAM_HOOKS, **{site.location: site.hook for site in SITES}}
        for i, block in enumerate(self.transformer.h):
            for location, path in paths.items():
                point = block.get_submodule(path)
                point.name = f"{i}.{location}"
                self.hook_points[point.name] = point
            for linear in LINEARS:
                self._hook_linear(f"{i}.{linear}")
            for _, _, _, norm in SUBLAYERS:
                block.get_submodule(norm).register_forward_pre_hook(
                    NormInputHook(self.hook_registry, f"{i}.{norm}")
                )
        self.hook_final_resid.name = FINAL_HOOK
        self.hook_points[FINAL_HOOK] = self.hook_final_resid
        self.hook_registry.names |= set(self.hook_points)

    def _hook_linear(self, key: str) -> None:
        self.submodule(key).register_forward_hook(LinearHook(self.hook_registry, key))

    def replace_linear(self, path: str, module: nn.Module) -> None:
        """Put `module` (a SparseLinear, or back an nn.Linear) where the linear layer at `path`
        (`transformer.h.0.mlp.c_fc`, `lm_head`) is, with the same name and the same hooks."""
        parent, _, attr = path.rpartition(".")
        setattr(self.get_submodule(parent) if parent else self, attr, module)
        if path.startswith("transformer.h."):
            self._hook_linear(path.removeprefix("transformer.h."))

    def _init_weights(self):
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))
        if self.config.cat_pos_emb and self.config.sinusoidal_cat_pos_emb:
            with torch.no_grad():
                self.transformer.wpe.weight.copy_(
                    sinusoidal_positions(self.config.block_size, self.config.d_pos_emb)
                )
            self.transformer.wpe.weight.requires_grad_(False)

    # ---- forward ---------------------------------------------------------------------------

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, last: torch.Tensor | None = None
    ):
        """Logits [batch, seq, vocab]; with targets, also the mean cross-entropy. With `last`
        ([batch] positions), only those positions' logits, [batch, vocab]: the unembedding and
        bigram table are most of a small model's work, and a task reads one position."""
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"sequence of length {T} is longer than block_size {self.config.block_size}")
        x = self.transformer.wte(idx)
        pos = None
        if "wpe" in self.transformer:
            pos_emb = self.transformer.wpe.weight[:T].unsqueeze(0)
            if self.config.cat_pos_emb:
                pos = self.transformer.drop(pos_emb) if self.config.dropout_cat_pos_emb else pos_emb
            else:
                x = x + pos_emb
        x = self.transformer.drop(x)
        if self._stored_by_feature(x):
            x = x.transpose(1, 2).contiguous().transpose(1, 2)
        for block in self.transformer.h:
            x = block(x, pos)
        x = self.hook_final_resid(x)
        if last is not None:
            rows = torch.arange(B, device=idx.device)
            x, idx = x[rows, last], idx[rows, last]
        logits = self.lm_head(self.transformer.ln_f(x)) + self.final_logits_bias
        if self.bigram_table is not None:
            logits = logits + F.embedding(idx, self.bigram_table).to(logits.dtype)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def _stored_by_feature(self, x: torch.Tensor) -> bool:
        """Whether activations flow stored by feature ([width, tokens] in memory, seen as
        [batch, tokens, width]): on CPU, for a model whose block matrices are sparse, whose
        products read and write that layout (core/sparse.py). Hooks see the same shapes."""
        return x.device.type == "cpu" and isinstance(self.transformer.h[0].attn.c_attn, SparseLinear)

    @contextlib.contextmanager
    def hooks(self, hooks):
        """Install hooks {name: fn(tensor, name) -> tensor | None} for the duration, in this
        thread only (see core/hooks.py)."""
        with self.hook_registry.installed(hooks):
            yield self

    def run_with_hooks(self, input_ids: torch.Tensor, hooks) -> torch.Tensor:
        with self.hooks(hooks):
            return self(input_ids)

    def run_with_cache(self, input_ids: torch.Tensor, names=None):
        """(logits, cache): cache maps hook name -> detached activation [batch, seq, width]."""
        cache: dict[str, torch.Tensor] = {}

        def save(x, name):
            cache[name] = x.detach()

        wanted = list(self.hook_points) if names is None else list(names)
        logits = self.run_with_hooks(input_ids, [(n, save) for n in wanted])
        return logits, cache

    # ---- bookkeeping -----------------------------------------------------------------------

    def location_width(self, location: str) -> int:
        """Number of nodes at a hook point ('0.mlp.post_act' -> d_mlp)."""
        return self.topology.width(location)

    def submodule(self, key: str) -> nn.Module:
        """A block's module by key: `0.mlp.c_fc`, `1.ln_1`."""
        layer, _, path = key.partition(".")
        return self.transformer.h[int(layer)].get_submodule(path)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def sinusoidal_positions(block_size: int, width: int) -> torch.Tensor:
    """Fixed sin/cos positions with periods log-spaced from 4 tokens to block_size."""
    positions = torch.arange(block_size, dtype=torch.float32).unsqueeze(1)
    half = max(1, width // 2)
    periods = torch.logspace(math.log10(4.0), math.log10(max(4.0, float(block_size))), steps=half)
    angles = positions * (2 * math.pi / periods)
    enc = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if enc.shape[1] < width:
        enc = torch.cat([enc, torch.zeros(block_size, width - enc.shape[1])], dim=1)
    return enc[:, :width]
