"""The sparse inference path (core/sparse.py) computes what the dense path computes."""

import copy
import itertools
import json

import pytest
import torch

from core import GPT, load_model
from core.ablation import ablated, gates_keeping
from core.circuit import extract_edges
from core.interventions import Intervention, applied
from core.means import compute_means
from core.provenance import fingerprint
from core.prune import PruneConfig, Pruner
from core.sparse import SparseLinear, densify, is_sparse_model, sparsify, to_csr, weight_density
from core.taskeval import task_batch
from core.tasks import BUILTIN_TASKS
from tests.conftest import FIXTURES, tiny_config

OPENAI = FIXTURES / "openai_format"


@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("name", ["rms_bigram_afrac", "layernorm_bias_tied"])
def test_openai_fixture_reproduced_both_ways(name, sparse):
    model = load_model(OPENAI / name, sparse=sparse)
    assert is_sparse_model(model) == sparse
    expected = torch.load(OPENAI / name / "expected.pt", weights_only=True)
    logits, cache = model.run_with_cache(expected["input_ids"])
    torch.testing.assert_close(logits, expected["logits"], atol=1e-4, rtol=0)
    for hook, value in expected["activations"].items():
        torch.testing.assert_close(cache[hook], value, atol=1e-4, rtol=0, msg=hook)


def test_density_picks_the_layout():
    # The fixtures' random weights are a quarter nonzero: over SPARSE_BELOW, so dense by default.
    assert not is_sparse_model(load_model(OPENAI / "rms_bigram_afrac"))


def test_to_csr_round_trips_in_bands():
    w = torch.randn(300, 7) * (torch.rand(300, 7) < 0.1)
    w[5] = 0.0
    torch.testing.assert_close(to_csr(w).to_dense(), w)
    torch.testing.assert_close(to_csr(w.to(torch.bfloat16)).to_dense(), w.to(torch.bfloat16).float())


def test_sparse_linear_equals_linear_with_and_without_gradient():
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 40)
    with torch.no_grad():
        linear.weight.masked_fill_(torch.rand_like(linear.weight) >= 0.2, 0.0)
    sparse = SparseLinear.from_linear(linear)
    x = torch.randn(3, 5, 48)
    with torch.no_grad():
        torch.testing.assert_close(sparse(x), linear(x), atol=1e-6, rtol=0)
        torch.testing.assert_close(sparse(x.transpose(0, 1)), linear(x.transpose(0, 1)), atol=1e-6, rtol=0)
    xs, xd = x.clone().requires_grad_(), x.clone().requires_grad_()
    (sparse(xs) ** 2).sum().backward()
    (linear(xd) ** 2).sum().backward()
    torch.testing.assert_close(xs.grad, xd.grad, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def pair(small_stream, tokenizer):
    """A tiny model with 1/8 of each matrix nonzero, and its sparse twin."""
    torch.manual_seed(0)
    dense = GPT(tiny_config(afrac=None, bias=True)).eval()
    with torch.no_grad():
        for name, p in dense.named_parameters():
            if (p.dim() == 2 and ".h." in name) or name == "lm_head.weight":
                p.masked_fill_(torch.rand_like(p) >= 0.125, 0.0)  # +0.0: CSR keeps no sign of zeros
    sparse = sparsify(copy.deepcopy(dense))
    means = compute_means(dense, small_stream, n_batches=2, batch_size=4)
    batch = task_batch(BUILTIN_TASKS["bracket_counting"], tokenizer, 32, n=16)
    return dense, sparse, means, batch


def test_sparsify_keeps_names_hooks_and_fingerprint(pair):
    dense, sparse, _, _ = pair
    assert isinstance(sparse.transformer.h[0].mlp.c_fc, SparseLinear)
    assert isinstance(sparse.lm_head, SparseLinear)
    assert sparse.hook_registry.names == dense.hook_registry.names
    assert weight_density(sparse) == pytest.approx(weight_density(dense))
    assert fingerprint(sparse) == fingerprint(dense)
    back = densify(sparsify(copy.deepcopy(dense)))
    ids = torch.randint(0, 2048, (2, 12))
    torch.testing.assert_close(back(ids), dense(ids), atol=1e-5, rtol=0)


def test_activations_flow_stored_by_feature_on_cpu(pair):
    """The sparse products read and write [width, tokens] rows; norms, AbsTopK and attention
    keep that layout instead of copying into rows by token and back (core/model.py)."""
    _, sparse, _, _ = pair
    strides = {}
    sparse.run_with_hooks(
        torch.randint(0, 2048, (1, 20)),
        [(n, lambda x, name: strides.__setitem__(name, x.stride())) for n in ("1.resid_mid", "0.mlp.act_in")],
    )
    assert all(s[-1] != 1 and s[-2] == 1 for s in strides.values()), strides


def test_rms_norm_by_feature_equals_torchs():
    from core.model import RMSNorm

    norm = RMSNorm(48)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
    x = torch.randn(2, 9, 48)
    by_feature = x.transpose(1, 2).contiguous().transpose(1, 2)
    out = norm(by_feature)
    assert out.stride(-1) != 1
    torch.testing.assert_close(out, torch.nn.RMSNorm(48, elementwise_affine=False)(x) * norm.weight)


def test_every_hook_agrees(pair):
    dense, sparse, _, _ = pair
    ids = torch.randint(0, 2048, (3, 20))
    names = [*dense.hook_points, "0.mlp.c_fc", "1.attn.c_attn", "1.ln_2"]
    seen = {"dense": {}, "sparse": {}}

    def recorder(kind):
        def record(x, name, *inp):
            seen[kind][name] = (x.detach(), *(t.detach() for t in inp))

        return record

    for kind, model in (("dense", dense), ("sparse", sparse)):
        model.run_with_hooks(ids, [(n, recorder(kind)) for n in names])
    assert set(seen["sparse"]) == set(names)
    for name in names:
        for a, b in zip(seen["dense"][name], seen["sparse"][name]):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=0, msg=name)


def test_interventions_and_gates_agree(pair):
    dense, sparse, means, _ = pair
    w = dense.transformer.h[0].mlp.c_fc.weight
    row, col = (int(i) for i in w.nonzero()[0])
    interventions = [
        Intervention("node", "0.mlp.post_act.3", "mean"),
        Intervention("node", "1.attn.q.2", "zero"),
        Intervention("edge", f"0.mlp.act_in.{col}->0.mlp.post_act.{row}", "zero"),
        Intervention("edge", "0.attn.resid_delta.3->1.attn.act_in.3", "mean"),
    ]
    ids = torch.randint(0, 2048, (2, 16))
    with applied(dense, interventions, means):
        want = dense(ids)
    with applied(sparse, interventions, means):
        got = sparse(ids)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    gates = gates_keeping(dense, ["0.mlp.post_act.1", "1.attn.v.0", "0.attn.act_in.4"])
    with ablated(dense, gates=gates, means=means):
        want = dense(ids)
    with ablated(sparse, gates=gates, means=means):
        got = sparse(ids)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_pruning_steps_and_edges_agree(pair):
    dense, sparse, means, batch = pair
    pruners = [Pruner(model, batch, means, PruneConfig(steps=20)) for model in (dense, sparse)]
    for pruner in pruners:
        list(itertools.islice(pruner.run(), 3))
    for loc, logits in pruners[0].logits.items():
        torch.testing.assert_close(pruners[1].logits[loc], logits, atol=1e-5, rtol=0, msg=loc)
    nodes = [f"0.mlp.act_in.{i}" for i in range(32)] + [f"0.mlp.post_act.{i}" for i in range(64)]
    edges = extract_edges(dense, nodes)
    assert edges and extract_edges(sparse, nodes) == edges


def test_bench_inference_small(capsys):
    from core.cli import main

    assert main(["bench", "inference", "--small", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {
        "sparse_ms",
        "dense_ms",
        "ratio",
        "max_abs_err",
        "sparse_model_mb",
        "dense_model_mb",
        "load_s",
        "load_peak_rss_mb",
        "ablation_ms",
    }
    assert result["max_abs_err"] <= 1e-4
    assert result["sparse_model_mb"] < result["dense_model_mb"]
    assert result["ratio"] == pytest.approx(result["dense_ms"] / result["sparse_ms"])
    assert result["ablation_ms"] > 0 and result["ablation_threads"] >= 1


def test_sparse_load_of_an_openai_folder_written_by_the_bench(tmp_path):
    from core.commands.bench import SMALL_SHAPE, write_openai_model

    write_openai_model(tmp_path, SMALL_SHAPE)
    sparse, dense = load_model(tmp_path), load_model(tmp_path, sparse=False)
    assert is_sparse_model(sparse) and not is_sparse_model(dense)  # 1/128 nonzero: sparse by default
    ids = torch.randint(0, 2048, (2, 30))
    torch.testing.assert_close(sparse(ids), dense(ids), atol=1e-5, rtol=0)


def test_workbench_opens_sparse_on_request():
    from core.workbench import Workbench

    sparse, dense = Workbench("default", sparse=True), Workbench("default")
    assert is_sparse_model(sparse.model) and not is_sparse_model(dense.model)
    assert not any(p.requires_grad for p in sparse.model.parameters())
    ids = torch.tensor([sparse.tokenizer.encode("x = [[1, 2], [3")])
    torch.testing.assert_close(sparse.model(ids), dense.model(ids), atol=1e-5, rtol=0)
