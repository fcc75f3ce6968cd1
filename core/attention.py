"""Causal attention, optionally with OpenAI's sink: a zero key/value slot before the first token
whose logit is learned per head, so that a head may put its weight nowhere (SDPAWithSink).

The sink only adds exp(sink) to each query's softmax denominator (its value is zero). So where
the fused kernel reports each row's log-sum-exp L (CPU inference), the sink's output is the plain
causal output times sum / (sum + e^sink) = sigmoid(L - sink): no mask and no extra slot, which
cost a sparse model's forward pass as much as the attention itself. Elsewhere (training, GPU) the
slot is written out as a mask, as OpenAI does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# (output, logsumexp) of the fused CPU kernel; absent from some torch builds.
_FLASH_CPU = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def causal_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    sink_logit: torch.Tensor | None,
    dropout: float,
    scale: float,
) -> torch.Tensor:
    """softmax(q k^T * scale, causal [+ sink slot]) v for [batch, heads, tokens, d_head] inputs."""
    if sink_logit is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True, scale=scale)
    if _can_fold_sink(q, k, v, sink_logit, dropout):
        out, lse = _FLASH_CPU(q, k, v, is_causal=True, scale=scale)
        keep = torch.sigmoid(lse - sink_logit.to(lse.dtype).view(1, -1, 1)).unsqueeze(-1)
        return (out * keep).to(q.dtype)
    return _attend_with_sink_slot(q, k, v, sink_logit, dropout, scale)


def _can_fold_sink(q, k, v, sink_logit, dropout: float) -> bool:
    """The fused CPU kernel with its log-sum-exp: no dropout, no gradient wanted, float inputs
    with each head's vectors contiguous (as the kernel reads them)."""
    if _FLASH_CPU is None or dropout or q.device.type != "cpu":
        return False
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, sink_logit)):
        return False
    return all(t.dtype == torch.float32 and t.stride(-1) == 1 for t in (q, k, v))


def _attend_with_sink_slot(q, k, v, sink_logit, dropout: float, scale: float) -> torch.Tensor:
    """The sink as OpenAI writes it: a zero key/value at position 0, its logit in the mask."""
    B, H, T, D = q.shape
    k = torch.cat([k.new_zeros(B, H, 1, D), k], dim=2)
    v = torch.cat([v.new_zeros(B, H, 1, v.shape[-1]), v], dim=2)
    allow = torch.ones(T, T + 1, dtype=torch.bool, device=q.device)
    allow[:, 1:] = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    mask = torch.zeros(T, T + 1, dtype=q.dtype, device=q.device)
    mask = mask.masked_fill(~allow, torch.finfo(q.dtype).min).expand(1, H, T, T + 1).clone()
    mask[..., 0] += sink_logit.to(q.dtype).view(1, H, 1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, scale=scale)
