import pytest
import torch

from core import GPT
from core.sparsity import (
    SparsitySpec,
    abs_topk,
    keep_count,
    l0_fraction_at,
    project_,
    sparse_parameters,
    topk_mask,
)
from core.train import sharkfin_lr
from tests.conftest import tiny_config, tiny_train_config


def test_abs_topk_keeps_largest_magnitudes():
    x = torch.tensor([[0.1, -3.0, 2.0, -0.5], [1.0, 1.5, -0.2, 0.0]])
    assert abs_topk(x, 2).tolist() == [[0.0, -3.0, 2.0, 0.0], [1.0, 1.5, 0.0, 0.0]]


def test_topk_mask_keeps_exactly_k():
    torch.manual_seed(0)
    w = torch.randn(64, 48)
    mask = topk_mask(w, 300, min_per_unit=0)
    assert int(mask.sum()) == 300
    assert w.abs()[mask].min() >= w.abs()[~mask].max()


def test_topk_mask_floor_per_row_and_column():
    torch.manual_seed(0)
    w = torch.randn(64, 48)
    w[7] *= 1e-6  # a neuron whose weights are all tiny
    w[:, 3] *= 1e-6  # a channel likewise
    mask = topk_mask(w, 400, min_per_unit=4)
    assert int(mask.sum()) == 400
    assert int(mask.sum(1).min()) >= 4 and int(mask.sum(0).min()) >= 4


def test_topk_mask_floor_beats_budget():
    w = torch.randn(10, 10)
    mask = topk_mask(w, 5, min_per_unit=4)
    assert int(mask.sum(1).min()) >= 4  # the floor wins over k


def test_projection_sets_every_sparse_matrix_to_target():
    torch.manual_seed(0)
    model = GPT(tiny_config(bias=True))
    params = sparse_parameters(model, SparsitySpec())
    with torch.no_grad():
        for p in params.values():
            p.normal_()  # biases start at zero; give every entry a magnitude
    project_(params, 0.25, min_per_unit=4)
    for name, p in params.items():
        assert int((p != 0).sum()) == keep_count(p.numel(), 0.25), name
    assert (model.transformer.h[0].ln_1.weight != 0).all()


def test_sparse_parameters_respects_dense_options():
    model = GPT(tiny_config(bias=True))
    all_sparse = set(sparse_parameters(model, SparsitySpec()))
    assert {"transformer.wte.weight", "lm_head.weight", "transformer.h.0.mlp.c_fc.bias"} <= all_sparse
    assert not any("ln_" in n or "sink" in n for n in all_sparse)
    dense = set(
        sparse_parameters(model, SparsitySpec(dense_embeddings=True, dense_unembed=True, dense_biases=True))
    )
    assert "transformer.wte.weight" not in dense and "lm_head.weight" not in dense
    assert not any(n.endswith(".bias") for n in dense)
    assert "transformer.h.1.attn.c_attn.weight" in dense


def test_tied_embedding_counted_once():
    model = GPT(tiny_config(tied_unembed=True))
    names = sparse_parameters(model, SparsitySpec())
    assert ("transformer.wte.weight" in names) != ("lm_head.weight" in names)


def test_l0_schedule_anneals_linearly_then_holds():
    assert l0_fraction_at(0, 100, 0.1) == 1.0
    assert l0_fraction_at(25, 100, 0.1) == pytest.approx(0.55)
    assert l0_fraction_at(50, 100, 0.1) == pytest.approx(0.1)
    assert l0_fraction_at(90, 100, 0.1) == pytest.approx(0.1)
    assert l0_fraction_at(10, 100, 0.1, anneal_frac=0.2) == pytest.approx(0.55)


def test_sharkfin_warmup_decay_and_l0_scaling():
    cfg = tiny_train_config(steps=1000, lr=1.0, warmup_frac=0.01)
    assert sharkfin_lr(0, cfg, 1.0) == pytest.approx(0.1)
    assert sharkfin_lr(9, cfg, 1.0) == pytest.approx(1.0)
    assert sharkfin_lr(505, cfg, 1.0) == pytest.approx(0.5)
    assert sharkfin_lr(505, cfg, 0.25) == pytest.approx(1.0)  # x 1/sqrt(l0)
    assert sharkfin_lr(999, cfg, 1.0) < 0.002
