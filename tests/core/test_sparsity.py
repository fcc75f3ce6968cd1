import pytest
import torch

from core import GPT
from core.presets import PRESETS, preset
from core.sparsity import (
    SparsitySpec,
    abs_topk,
    floor_that_fits,
    keep_count,
    l0_fraction_at,
    nonzero_fraction,
    project_,
    sparse_parameters,
    topk_mask,
)
from core.train import sharkfin_lr
from tests.conftest import tiny_config, tiny_train_config


def test_abs_topk_keeps_largest_magnitudes():
    x = torch.tensor([[0.1, -3.0, 2.0, -0.5], [1.0, 1.5, -0.2, 0.0]])
    assert abs_topk(x, 2).tolist() == [[0.0, -3.0, 2.0, 0.0], [1.0, 1.5, 0.0, 0.0]]


def topk_reference(x, k):
    _, idx = torch.topk(x.abs(), k, dim=-1, sorted=False)
    return torch.zeros_like(x).scatter_(-1, idx, x.gather(-1, idx))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_abs_topk_matches_topk(dtype):
    """The CPU threshold path keeps what torch.topk keeps, strided input included; ties at a
    nonzero threshold and NaNs are left to topk; zeros tied at the threshold change nothing."""
    torch.manual_seed(0)
    x = torch.randn(3, 7, 64, dtype=dtype)
    x[0, 0, :40] = 0.0  # fewer nonzeros than k: the threshold is 0
    x[0, 1, :4] = torch.tensor([5.0, -5.0, 5.0, -5.0])  # a tie across the cut
    x[1, 2, 0] = float("nan")
    by_feature = x.transpose(1, 2).contiguous().transpose(1, 2)  # a sparse layer's output
    for t in (x, x.transpose(0, 1), by_feature):
        for k in (1, 3, 16, 63, 64):
            got, want = abs_topk(t, k), topk_reference(t, k)
            if k < 64 and dtype != torch.bfloat16:  # the threshold path keeps the layout
                assert got.stride() == t.stride()
            assert torch.equal(got.isnan(), want.isnan())
            assert torch.equal(got.nan_to_num(), want.nan_to_num()), (k, dtype)


def test_abs_topk_passes_gradients_to_the_kept():
    x = torch.tensor([[0.1, -3.0, 2.0, -0.5]], requires_grad=True)
    abs_topk(x, 2).sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 1.0, 0.0]]


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


def test_the_budget_beats_the_floor():
    torch.manual_seed(0)
    w = torch.randn(10, 10)
    mask = topk_mask(w, 5, min_per_unit=4)
    assert int(mask.sum()) == 5  # no floor fits in 5: the 5 largest, wherever they are
    assert w.abs()[mask].min() >= w.abs()[~mask].max()
    mask = topk_mask(w, 45, min_per_unit=4)  # a floor of 4 needs at least 40 + 40 - 16 entries
    assert int(mask.sum()) == 45
    assert int(mask.sum(1).min()) >= 2 and int(mask.sum(0).min()) >= 2


def brute_floor(w: torch.Tensor, k: int, j_max: int) -> int:
    """The largest j whose per-row and per-column top-j entries number at most k, counted."""
    s = w.abs()
    rows, cols = torch.topk(s, j_max, dim=1).indices, torch.topk(s, j_max, dim=0).indices
    best = 0
    for j in range(1, j_max + 1):
        m = torch.zeros_like(w, dtype=torch.bool).scatter_(1, rows[:, :j], True).scatter_(0, cols[:j], True)
        if int(m.sum()) <= k:
            best = j
    return best


@pytest.mark.parametrize("seed", range(40))
def test_the_floor_is_the_largest_that_fits_and_counts_inside_k(seed):
    g = torch.Generator().manual_seed(seed)
    n_rows, n_cols = torch.randint(1, 12, (2,), generator=g).tolist()
    w = torch.randn(n_rows, n_cols, generator=g)
    if seed % 2:
        w = w.round()  # many ties, and zeros
    k = int(torch.randint(0, n_rows * n_cols + 1, (), generator=g))
    j_max = min(4, n_rows, n_cols)
    s = w.abs()
    rows, cols = torch.topk(s, j_max, dim=1).indices, torch.topk(s, j_max, dim=0).indices
    j = floor_that_fits(rows, cols, k)
    assert j == brute_floor(w, k, j_max)
    mask = topk_mask(w, k, min_per_unit=4)
    assert int(mask.sum()) == k
    if j:
        assert int(mask.sum(1).min()) >= j and int(mask.sum(0).min()) >= j


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_sparse_matrix_of_a_preset_projects_to_its_target(name):
    """One projection of random weights of every sparse shape of the preset, at its final
    fraction (the paper's 1/512 for `paper`), keeps the target fraction within 5%, and no row
    or column is left empty. One matrix at a time: the paper's are 16M entries."""
    model_config, train_config = preset(name, vocab_size=2048)
    with torch.device("meta"):  # shapes only, no memory
        model = GPT(model_config)
    spec = SparsitySpec(train_config.dense_embeddings, train_config.dense_unembed, train_config.dense_biases)
    shapes = {tuple(p.shape) for p in sparse_parameters(model, spec).values()}
    assert shapes
    fraction = train_config.l0_target
    for shape in sorted(shapes):
        torch.manual_seed(0)
        w = torch.randn(shape)
        project_({"w": w}, fraction, train_config.min_per_unit)
        measured = nonzero_fraction([w])
        assert measured == pytest.approx(fraction, rel=0.05), shape
        assert int(torch.count_nonzero(w)) == keep_count(w.numel(), fraction), shape
        if w.dim() == 2:
            assert int((w != 0).sum(1).min()) >= 1 and int((w != 0).sum(0).min()) >= 1, shape
        del w


def test_projection_sets_every_sparse_matrix_to_target():
    torch.manual_seed(0)
    model = GPT(tiny_config(bias=True))
    params = sparse_parameters(model, SparsitySpec())
    with torch.no_grad():
        for p in params.values():
            p.normal_()  # biases start at zero; give every entry a magnitude
    project_(params, 0.25, min_per_unit=4)
    measured = nonzero_fraction(params.values())
    for name, p in params.items():
        assert int((p != 0).sum()) == keep_count(p.numel(), 0.25), name
    total = sum(p.numel() for p in params.values())
    assert measured == sum(int((p != 0).sum()) for p in params.values()) / total
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
