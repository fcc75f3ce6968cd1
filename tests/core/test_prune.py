import json

import networkx as nx
import pytest
import torch

from core import GPT
from core.ablation import ablated, gates_keeping
from core.checks import (
    circuit_loss,
    necessity,
    random_circuits,
    reinitialised,
    run_checks,
    sufficiency,
    zero_ablation,
)
from core.circuit import Circuit, extract_edges
from core.fileio import FileFormatError
from core.interventions import Intervention, applied
from core.k_search import KSearch
from core.prune import PruneConfig, Pruner, heaviside
from core.taskeval import evaluate, task_batch
from core.tasks import BUILTIN_TASKS
from core.topology import LOCATIONS
from tests.conftest import tiny_config


def test_heaviside_forward_is_a_step_backward_a_sigmoid():
    logits = torch.tensor([-0.5, 0.0, 0.3], requires_grad=True)
    gates = heaviside(logits, 0.5)
    assert gates.tolist() == [0.0, 0.0, 1.0]
    gates.sum().backward()
    s = torch.sigmoid(logits.detach() / 0.5)
    torch.testing.assert_close(logits.grad, s * (1 - s) / 0.5)


def test_mask_gradient_reaches_every_location(setup):
    model, means, batch = setup
    pruner = Pruner(model, batch, means, PruneConfig(steps=1))
    next(pruner.run())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in pruner.logits.values())
    assert all(p.abs().max() <= 1 for p in pruner.logits.values())


def test_gates_keep_or_mean_ablate(setup):
    model, means, batch = setup
    full = evaluate(model, batch)["task_loss"]
    assert circuit_loss(model, batch, model.topology.all_nodes(), means) == pytest.approx(full, abs=1e-5)
    # Everything ablated: the residual stream is the embeddings plus every write's mean.
    with ablated(model, gates=gates_keeping(model, []), means=means):
        _, cache = model.run_with_cache(batch.input_ids, ["final_resid"])
    T = batch.input_ids.shape[1]
    expected = model.transformer.wte(batch.input_ids) + model.transformer.wpe.weight[:T]
    for i in range(model.config.n_layer):
        expected = expected + means[f"{i}.attn.resid_delta"] + means[f"{i}.mlp.resid_delta"]
    torch.testing.assert_close(cache["final_resid"], expected, atol=1e-5, rtol=0)


def test_node_interventions_equal_gates(setup):
    """The GUI's path (interventions) and the pruner's path (gates) agree."""
    model, means, batch = setup
    nodes = model.topology.all_nodes()[::7]
    ivs = [Intervention("node", n, "mean") for n in model.topology.all_nodes() if n not in set(nodes)]
    with applied(model, ivs, means):
        via_interventions = evaluate(model, batch)["task_loss"]
    assert via_interventions == pytest.approx(circuit_loss(model, batch, nodes, means), abs=1e-5)


def test_edge_zero_ablation_equals_cutting_the_weight(setup):
    model, means, batch = setup
    lin = model.transformer.h[0].mlp.c_fc
    row, col = [int(v) for v in (lin.weight != 0).nonzero()[0]]
    iv = Intervention("edge", f"0.mlp.act_in.{col}->0.mlp.post_act.{row}", "zero")
    with applied(model, [iv], means):
        ablated = model(batch.input_ids)
    saved = lin.weight[row, col].item()
    with torch.no_grad():
        lin.weight[row, col] = 0
    try:
        torch.testing.assert_close(ablated, model(batch.input_ids))
    finally:
        with torch.no_grad():
            lin.weight[row, col] = saved


def test_residual_edge_zero_ablation_removes_one_write(setup):
    model, means, batch = setup
    iv = Intervention("edge", "0.attn.resid_delta.3->1.attn.act_in.3", "zero")
    with applied(model, [iv], means):
        ablated = model(batch.input_ids)
    written = {}
    block = model.transformer.h[1]

    def remove(module, args):
        x = args[0].clone()
        x[..., 3] -= written["w"]
        return (x,)

    handle = block.ln_1.register_forward_pre_hook(remove)
    try:
        with model.hooks({"0.attn.resid_delta": lambda x, n: written.__setitem__("w", x[..., 3])}):
            manual = model(batch.input_ids)
    finally:
        handle.remove()
    torch.testing.assert_close(ablated, manual)
    assert not torch.allclose(ablated, model(batch.input_ids))


def test_bad_interventions_are_reported(setup):
    model, means, _ = setup
    with pytest.raises(ValueError, match="no weight or residual"):
        with applied(model, [Intervention("edge", "0.mlp.post_act.1->0.attn.q.2")], means):
            pass
    with pytest.raises(ValueError, match="out of range"):
        with applied(model, [Intervention("node", "0.mlp.post_act.9999")], means):
            pass
    with pytest.raises(ValueError, match="mode"):
        Intervention("node", "0.mlp.post_act.1", "median")


def test_bisection_finds_the_smallest_k(setup, monkeypatch):
    model, means, batch = setup
    pruner = Pruner(model, batch, means, PruneConfig(steps=1, target_loss=0.15, fixed_k_steps=0))
    monkeypatch.setattr(pruner, "loss_with_top", lambda k, ranking: 0.1 if k >= 37 else 0.5)
    done = list(KSearch(pruner).run())[-1]
    assert done.phase == "done" and done.circuit.n_nodes == 37
    # Not monotone: 40..47 miss the target; the result must still meet it.
    monkeypatch.setattr(pruner, "loss_with_top", lambda k, ranking: 0.5 if k < 20 or 40 <= k < 48 else 0.1)
    done = list(KSearch(pruner).run())[-1]
    assert pruner.loss_with_top(done.circuit.n_nodes, None) <= 0.15
    assert done.circuit.n_nodes <= 64


def test_pruner_end_to_end_finds_the_smallest_circuit_that_meets_the_target(setup):
    model, means, batch = setup
    # Any circuit meets a target this loose, the empty one too: the search ends at k = 0
    # (tests/core/test_fixed_k.py prunes to a target that needs nodes).
    events = list(Pruner(model, batch, means, PruneConfig(steps=30, target_loss=10.0), "t").run())
    assert events[0].phase == "optimize" and events[-1].phase == "done"
    circuit = events[-1].circuit
    assert circuit.n_nodes == 0 and circuit.loss_circuit <= 10.0
    assert circuit.loss_vs_k[0] == [0, circuit.loss_circuit]


def test_pruner_says_when_the_target_cannot_be_reached(setup):
    """A target below the full model's own loss: the circuit keeps every node, and its loss
    (the full model's) is reported above the target for the caller to flag."""
    model, means, batch = setup
    full = evaluate(model, batch)["task_loss"]
    circuit = list(Pruner(model, batch, means, PruneConfig(steps=5, target_loss=full / 10)).run())[-1].circuit
    assert circuit.n_nodes == len(model.topology.all_nodes())
    assert circuit.loss_circuit == pytest.approx(full, abs=1e-5)
    assert circuit.loss_circuit > circuit.target_loss


def test_edges_are_the_nonzero_weights_between_kept_nodes(setup):
    model, _, _ = setup
    lin = model.transformer.h[0].mlp.c_fc
    with torch.no_grad():
        lin.weight[2, 5] = 0.0
        lin.weight[3, 5] = 0.7
    nodes = [
        "0.mlp.act_in.5",
        "0.mlp.post_act.2",
        "0.mlp.post_act.3",
        "0.attn.resid_delta.5",
        "1.attn.act_in.5",
    ]
    edges = extract_edges(model, nodes)
    weight_edges = {(e["src"], e["dst"]): e["weight"] for e in edges if e["kind"] == "weight"}
    assert weight_edges == {("0.mlp.act_in.5", "0.mlp.post_act.3"): pytest.approx(0.7)}
    residual = [(e["src"], e["dst"]) for e in edges if e["kind"] == "residual"]
    assert residual == [
        ("0.attn.resid_delta.5", "0.mlp.act_in.5"),
        ("0.attn.resid_delta.5", "1.attn.act_in.5"),
    ]


def test_circuit_size_counts_weight_edges_and_residual_links_apart():
    torch.manual_seed(0)
    model = GPT(tiny_config(afrac=None)).eval()
    with torch.no_grad():
        w = model.transformer.h[0].mlp.c_fc.weight
        w.zero_()
        w[2, 5], w[3, 5], w[3, 6] = 0.7, -0.2, 0.1
    nodes = [
        "0.attn.resid_delta.5",  # writes channel 5, read by the two act_in.5 below
        "0.mlp.act_in.5",
        "0.mlp.act_in.6",  # no kept write of channel 6
        "0.mlp.post_act.2",
        "0.mlp.post_act.3",
        "1.attn.act_in.5",  # no q, k or v kept: no weight edge out
    ]
    circuit = Circuit("t", 0.15, "mean", nodes, extract_edges(model, nodes), 0.0, 0.0)
    assert circuit.n_nodes == 6
    assert circuit.n_edges == 3  # c_fc's W[2, 5], W[3, 5], W[3, 6]: the paper's count
    assert circuit.n_residual_edges == 2  # 0.attn.resid_delta.5 -> 0.mlp.act_in.5, 1.attn.act_in.5
    assert circuit.nodes_per_location == {
        "attn.act_in": 1,
        "attn.q": 0,
        "attn.k": 0,
        "attn.v": 0,
        "attn.resid_delta": 1,
        "mlp.act_in": 2,
        "mlp.post_act": 2,
        "mlp.resid_delta": 0,
    }
    assert list(circuit.nodes_per_location) == list(LOCATIONS)
    data = circuit.to_dict()
    assert (data["n_edges"], data["n_residual_edges"]) == (3, 2)
    assert data["nodes_per_location"] == circuit.nodes_per_location
    assert circuit.size_text() == (
        "6 nodes (attn.act_in 1, attn.resid_delta 1, mlp.act_in 2, mlp.post_act 2), "
        "3 weight edges + 2 residual links"
    )
    assert circuit.size_text(per_location=False) == "6 nodes, 3 weight edges + 2 residual links"


def test_circuit_json_round_trip_and_graph(tmp_path):
    circuit = Circuit(
        "bracket_counting",
        0.15,
        "mean",
        ["0.mlp.act_in.5", "0.mlp.post_act.3"],
        [{"src": "0.mlp.act_in.5", "dst": "0.mlp.post_act.3", "weight": 0.7, "kind": "weight"}],
        0.01,
        0.12,
        seed=3,
        checks={"sufficiency_loss": 0.12},
    )
    circuit.save(tmp_path / "c.json")
    data = json.loads((tmp_path / "c.json").read_text())
    assert {
        "task",
        "target_loss",
        "ablation",
        "n_nodes",
        "nodes_per_location",
        "n_edges",
        "n_residual_edges",
        "loss_full",
        "loss_circuit",
        "nodes",
        "edges",
    } <= set(data)
    assert data["n_nodes"] == 2 and data["n_edges"] == 1 and data["n_residual_edges"] == 0
    again = Circuit.load(tmp_path / "c.json")
    assert again.to_dict() == circuit.to_dict()
    g = again.graph()
    assert isinstance(g, nx.DiGraph) and g.number_of_edges() == 1
    assert g.nodes["0.mlp.post_act.3"] == {"layer": 0, "location": "mlp.post_act", "index": 3}
    (tmp_path / "bad.json").write_text('{"task": "x", "nodes": []}')
    with pytest.raises(FileFormatError, match="bad.json: missing"):
        Circuit.load(tmp_path / "bad.json")


def test_each_check_on_a_tiny_model(setup, small_stream, tokenizer):
    model, means, batch = setup
    heldout = task_batch(BUILTIN_TASKS["bracket_counting"], tokenizer, 32, n=32, split="heldout")
    nodes = model.topology.all_nodes()
    circuit = Circuit("bracket_counting", 0.15, "mean", nodes[::2], [], 0, 0)
    full = evaluate(model, batch)["task_loss"]
    everything = Circuit("bracket_counting", 0.15, "mean", nodes, [], 0, 0)
    assert sufficiency(model, everything, batch, means) == pytest.approx(full, abs=1e-5)
    empty = Circuit("bracket_counting", 0.15, "mean", [], [], 0, 0)
    assert necessity(model, empty, batch, means) == pytest.approx(full, abs=1e-5)
    # Random node sets of the circuit's size differ from draw to draw; a "random" set that is
    # every node is the full model, every time.
    mean, std = random_circuits(model, circuit, batch, means, draws=5)
    assert std > 1e-4 and mean != pytest.approx(full, abs=1e-4)
    mean, std = random_circuits(model, everything, batch, means, draws=3)
    assert mean == pytest.approx(full, abs=1e-5) and std == pytest.approx(0, abs=1e-6)
    twin = reinitialised(model)
    for (name, a), b in zip(model.named_parameters(), twin.parameters()):
        if ".attn.c_" in name or ".mlp.c_" in name:  # between node sites: fresh, same pattern
            assert torch.equal(a != 0, b != 0) and not torch.equal(a, b), name
        else:  # what no node mask covers: the model's own
            assert torch.equal(a, b), name
    results = run_checks(
        model, circuit, batch, heldout, means, lambda: small_stream, PruneConfig(steps=5), draws=3
    )
    assert set(results) == {
        "sufficiency_loss",
        "necessity_loss",
        "random_circuit_loss_mean",
        "random_circuit_loss_std",
        "zero_ablation_loss",
        "heldout_loss",
        "reinit_control_loss",
    }
    # Each number is the measurement its name says, not a placeholder.
    assert results["sufficiency_loss"] == pytest.approx(sufficiency(model, circuit, batch, means), abs=1e-6)
    assert results["necessity_loss"] == pytest.approx(necessity(model, circuit, batch, means), abs=1e-6)
    assert results["heldout_loss"] == pytest.approx(sufficiency(model, circuit, heldout, means), abs=1e-6)
    assert results["zero_ablation_loss"] == pytest.approx(
        zero_ablation(model, circuit, batch, means), abs=1e-6
    )
    assert results["zero_ablation_loss"] != pytest.approx(results["sufficiency_loss"], abs=1e-4)
    assert 0 < results["reinit_control_loss"] < 20
