import pytest
import torch

from core import GPT
from core.circuit import Circuit
from core.provenance import CircuitMismatch, check_circuit_fits, fingerprint
from tests.conftest import tiny_config


def circuit_for(model, nodes, edges=()):
    c = Circuit("t", 0.15, "mean", list(nodes), list(edges), 0.1, 0.1, model="runs/a")
    c.extra["model_fingerprint"] = fingerprint(model)
    return c


def test_fingerprint_changes_with_any_weight_and_not_otherwise():
    torch.manual_seed(0)
    model = GPT(tiny_config())
    same = fingerprint(model)
    assert fingerprint(model) == same and len(same) == 16
    with torch.no_grad():
        model.transformer.h[1].mlp.c_fc.weight[3, 4] += 1e-3
    assert fingerprint(model) != same


def test_a_circuit_is_refused_on_another_model_naming_both():
    torch.manual_seed(0)
    a = GPT(tiny_config())
    torch.manual_seed(1)
    b = GPT(tiny_config())
    circuit = circuit_for(a, ["0.mlp.post_act.3"])
    check_circuit_fits(circuit, a, fingerprint(a), "runs/a")
    with pytest.raises(CircuitMismatch, match=r"c.json: .*runs/a.*not to runs/b"):
        check_circuit_fits(circuit, b, fingerprint(b), "runs/b", "c.json")


def test_nodes_and_edges_are_checked_against_the_widths():
    model = GPT(tiny_config())
    fp = fingerprint(model)
    unrecorded = Circuit("t", 0.15, "mean", ["0.mlp.post_act.99999"], [], 0.1, 0.1)
    with pytest.raises(CircuitMismatch, match=r"0.mlp.post_act.99999: index out of range"):
        check_circuit_fits(unrecorded, model, fp, "runs/b")
    deep = Circuit("t", 0.15, "mean", ["9.attn.q.0"], [], 0.1, 0.1)
    with pytest.raises(CircuitMismatch, match=r"9.attn.q.0: the model has 2 layers"):
        check_circuit_fits(deep, model, fp, "runs/b")
    bad_edge = Circuit(
        "t",
        0.15,
        "mean",
        ["0.attn.q.0", "1.mlp.post_act.0"],
        [{"src": "0.attn.q.0", "dst": "1.mlp.post_act.0", "weight": 1.0}],
        0.1,
        0.1,
    )
    with pytest.raises(CircuitMismatch, match="joins nothing"):
        check_circuit_fits(bad_edge, model, fp, "runs/b")


def test_the_fingerprint_is_the_same_dense_or_sparse_and_old_circuits_still_fit():
    from core import load_model
    from core.circuit import Circuit
    from core.provenance import check_circuit_fits, fingerprint, legacy_fingerprint
    from core.workbench import default_model_dir

    dense_model = load_model(default_model_dir(), sparse=False)
    sparse_model = load_model(default_model_dir(), sparse=True)
    assert fingerprint(dense_model) == fingerprint(sparse_model)
    shipped = Circuit.load(default_model_dir() / "circuits" / "single_double_quote.json")
    assert shipped.extra["model_fingerprint"] == fingerprint(dense_model)
    check_circuit_fits(shipped, dense_model, fingerprint(dense_model), "default")
    # A circuit saved before the fingerprint changed carries the old one, and still fits.
    assert legacy_fingerprint(dense_model) != fingerprint(dense_model)
    shipped.extra["model_fingerprint"] = legacy_fingerprint(dense_model)
    check_circuit_fits(shipped, dense_model, fingerprint(dense_model), "default")
