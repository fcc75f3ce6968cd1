"""Causal attention with OpenAI's sink, both ways it is computed, against the softmax written out."""

import math

import pytest
import torch

from core import attention
from core.attention import causal_attention


def explicit_softmax(q, k, v, sink):
    B, H, T, D = q.shape
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    weights = torch.softmax(torch.cat([sink.view(1, H, 1, 1).expand(B, H, T, 1), scores], dim=-1), dim=-1)
    return weights[..., 1:] @ v


@pytest.mark.parametrize("grad", [False, True], ids=["folded", "slot"])
def test_attention_sink_matches_explicit_softmax(grad, monkeypatch):
    torch.manual_seed(1)
    sink = torch.tensor([0.5, -1.0, 2.0, 0.0], requires_grad=grad)
    B, H, T, D = 2, 4, 6, 8
    q, k, v = (torch.randn(B, H, T, D) for _ in range(3))
    folded = []
    if attention._FLASH_CPU is not None:
        kernel = attention._FLASH_CPU
        monkeypatch.setattr(attention, "_FLASH_CPU", lambda *a, **kw: folded.append(1) or kernel(*a, **kw))
    got = causal_attention(q, k, v, sink, 0.0, 1 / math.sqrt(D))
    torch.testing.assert_close(got, explicit_softmax(q, k, v, sink.detach()), atol=1e-5, rtol=0)
    assert bool(folded) == (not grad and attention._FLASH_CPU is not None)
    if grad:
        got.sum().backward()
        assert sink.grad is not None and sink.grad.abs().sum() > 0


def test_heads_stored_by_feature_attend_alike():
    """Inputs whose head vectors are strided (as a sparse layer's output is) are not folded."""
    torch.manual_seed(2)
    sink = torch.randn(4)
    q, k, v = (torch.randn(2, 6, 8, 4).transpose(-1, -2).transpose(1, 2) for _ in range(3))
    assert q.stride(-1) != 1
    got = causal_attention(q, k, v, sink, 0.0, 1 / math.sqrt(8))
    torch.testing.assert_close(got, explicit_softmax(q, k, v, sink), atol=1e-5, rtol=0)
