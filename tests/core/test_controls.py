"""The controls a circuit is compared with: random node sets drawn from channels that have
weights, and a re-initialised twin that keeps what no node mask covers."""

import torch

from core import GPT, checks
from core.checks import channels_with_weights, random_circuits
from core.circuit import Circuit
from tests.conftest import tiny_config


def test_random_sets_are_drawn_from_channels_that_have_weights(monkeypatch):
    torch.manual_seed(0)
    model = GPT(tiny_config()).eval()
    with torch.no_grad():  # channel 5 of layer 0's MLP: nothing reads or writes it
        model.transformer.h[0].mlp.c_fc.weight[5].zero_()
        model.transformer.h[0].mlp.c_proj.weight[:, 5].zero_()
    live = channels_with_weights(model)
    width = model.topology.width("0.mlp.post_act")
    assert 5 not in live["0.mlp.post_act"].tolist() and len(live["0.mlp.post_act"]) == width - 1
    drawn = []
    record = lambda model, batch, nodes, *a, **k: drawn.append(nodes) or 1.0  # noqa: E731
    monkeypatch.setattr(checks, "circuit_loss", record)
    circuit = Circuit("t", 0.15, "mean", [f"0.mlp.post_act.{i}" for i in range(width - 1)], [], 0, 0)
    random_circuits(model, circuit, None, None, draws=10)
    assert all("0.mlp.post_act.5" not in nodes and len(nodes) == width - 1 for nodes in drawn)
