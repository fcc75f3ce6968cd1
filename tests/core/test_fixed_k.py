import json
from dataclasses import replace

import pytest
import torch

from core.checks import circuit_loss
from core.circuit import Circuit
from core.fixed_k import FixedKMask, top_k_gates
from core.k_search import KSearch
from core.prune import PruneConfig, PruneEvent, Pruner
from core.topology import sort_nodes


def test_top_k_gates_keep_exactly_k_and_pass_a_sigmoid_back():
    scores = torch.tensor([0.3, -1.0, 0.9, 0.1, -1.0, 0.5], requires_grad=True)
    gates = top_k_gates(scores, 3, 0.5)
    assert gates.tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    gates.sum().backward()
    s = torch.sigmoid((scores.detach() - 0.2) / 0.5)  # centred between the 3rd (0.3) and 4th (0.1)
    torch.testing.assert_close(scores.grad, s * (1 - s) / 0.5)
    # Ties go to the earlier node, as in the pruner's ranking.
    assert top_k_gates(torch.tensor([0.0, -1.0, -1.0, -1.0]), 2, 0.5).tolist() == [1, 1, 0, 0]


def test_a_mask_optimised_at_k_keeps_exactly_k_nodes_and_never_does_worse(setup):
    model, means, batch = setup
    pruner = Pruner(model, batch, means, PruneConfig(steps=5, fixed_k_steps=6))
    *_, last = (e for e in pruner.run() if e.phase == "optimize")
    k = 20
    start = pruner.loss_with_top(k, pruner.ranking())
    run = pruner.optimize_at_k(k, pruner.flat_logits())
    events = []
    while True:
        try:
            events.append(next(run))
        except StopIteration as stop:
            mask = stop.value
            break
    assert [e.phase for e in events] == ["fixed_k"] * 6 and {e.kept for e in events} == {k}
    assert int(mask.best_keep.sum()) == k and mask.best_loss <= start + 1e-6
    nodes = [f"{loc}.{i}" for loc, i in pruner.nodes_kept(mask.best_keep)]
    assert len(nodes) == k
    assert circuit_loss(model, batch, nodes, means) == pytest.approx(mask.best_loss, abs=1e-5)
    with pytest.raises(ValueError, match="k must be between"):
        FixedKMask(pruner.flat_logits(), 0, 0.05, 0.5)


def fake_fixed_k(passes_from: int):
    """An optimize_at_k whose masks meet the target (loss 0.1) from `passes_from` nodes up."""

    def optimize_at_k(k, start, stop_at=None):
        mask = FixedKMask(start, k, 0.05, 0.5)
        mask.best_loss = 0.1 if k >= passes_from else 0.5
        yield PruneEvent("fixed_k", 1, 1, mask.best_loss, k)
        return mask

    return optimize_at_k


def test_the_search_goes_below_the_ranking_where_fixed_k_masks_meet_the_target(setup, monkeypatch):
    model, means, batch = setup
    pruner = Pruner(model, batch, means, PruneConfig(steps=1, target_loss=0.15))
    monkeypatch.setattr(pruner, "loss_with_top", lambda k, ranking: 0.1 if k >= 37 else 0.5)
    monkeypatch.setattr(pruner, "optimize_at_k", fake_fixed_k(passes_from=23))
    done = list(KSearch(pruner).run())[-1]
    assert done.circuit.n_nodes == 23 and done.circuit.loss_circuit == 0.1
    curve = dict(done.circuit.loss_vs_k)
    assert [k for k, _ in done.circuit.loss_vs_k] == sorted(curve)
    assert curve[0] == 0.5 and curve[22] == 0.5 and curve[23] == 0.1 and curve[24] == 0.1
    assert curve[37] == 0.1  # the ranking's own answer
    # Fixed-k masks that never beat the ranking: the ranking's answer stands.
    monkeypatch.setattr(pruner, "optimize_at_k", fake_fixed_k(passes_from=10_000))
    done = list(KSearch(pruner).run())[-1]
    assert done.circuit.n_nodes == 37


def test_the_search_starts_at_zero_and_never_ends_above_the_ranking(setup):
    model, means, batch = setup
    full = circuit_loss(model, batch, model.topology.all_nodes(), means)
    empty = circuit_loss(model, batch, [], means)
    config = PruneConfig(steps=10, target_loss=(full + empty) / 2, fixed_k_steps=4)
    pruner = Pruner(model, batch, means, config)
    circuit = list(pruner.run())[-1].circuit
    pruner.config = replace(config, fixed_k_steps=0)
    by_ranking = list(KSearch(pruner).run())[-1].circuit  # the same masks, ranked alone
    assert 0 < circuit.n_nodes <= by_ranking.n_nodes < len(model.topology.all_nodes())
    assert circuit.loss_circuit <= config.target_loss and circuit.nodes == sort_nodes(circuit.nodes)
    assert circuit_loss(model, batch, circuit.nodes, means) == pytest.approx(circuit.loss_circuit, abs=1e-5)
    ks = [k for k, _ in circuit.loss_vs_k]
    assert ks == sorted(set(ks)) and ks[0] == 0 and circuit.n_nodes in ks
    assert dict(circuit.loss_vs_k)[circuit.n_nodes] == circuit.loss_circuit
    assert dict(circuit.loss_vs_k)[0] == pytest.approx(empty, abs=1e-5)


def test_loss_vs_k_round_trips_and_old_files_have_none(tmp_path):
    circuit = Circuit("t", 0.15, "mean", ["0.mlp.act_in.5"], [], 0.01, 0.12, loss_vs_k=[[0, 0.7], [1, 0.12]])
    circuit.save(tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["loss_vs_k"] == [[0, 0.7], [1, 0.12]]
    again = Circuit.load(tmp_path / "c.json")
    assert again.loss_vs_k == [[0, 0.7], [1, 0.12]] and again.to_dict() == circuit.to_dict()
    old = circuit.to_dict()
    del old["loss_vs_k"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert Circuit.load(tmp_path / "old.json").loss_vs_k is None
    assert "loss_vs_k" not in Circuit.load(tmp_path / "old.json").to_dict()
