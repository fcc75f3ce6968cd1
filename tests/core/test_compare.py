import json

import pytest

from core.circuit import Circuit
from core.cli import main
from core.compare import compare


def circuit(nodes, edges, task="t"):
    edge_dicts = [{"src": s, "dst": d, "weight": 0.5, "kind": k} for s, d, k in edges]
    return Circuit(task, 0.15, "mean", nodes, edge_dicts, 0.01, 0.1)


A = circuit(
    ["0.attn.q.1", "0.attn.k.2", "0.mlp.post_act.3"],
    [("0.attn.act_in.0", "0.attn.q.1", "weight"), ("0.attn.resid_delta.4", "1.attn.act_in.4", "residual")],
)
B = circuit(
    ["0.attn.q.1", "0.mlp.post_act.9"],
    [("0.attn.act_in.0", "0.attn.q.1", "weight"), ("0.mlp.act_in.1", "0.mlp.post_act.9", "weight")],
    task="u",
)


def test_shared_and_only_one_nodes_and_edges_with_their_overlap():
    result = compare(A, B)
    assert result.shared_nodes == ["0.attn.q.1"]
    assert result.only_a_nodes == ["0.attn.k.2", "0.mlp.post_act.3"]
    assert result.only_b_nodes == ["0.mlp.post_act.9"]
    assert result.node_jaccard == pytest.approx(1 / 4)
    # Weight edges only, as the paper counts a circuit's edges; residual links are not edges.
    assert result.shared_edges == [("0.attn.act_in.0", "0.attn.q.1")]
    assert result.only_a_edges == [] and result.only_b_edges == [("0.mlp.act_in.1", "0.mlp.post_act.9")]
    assert result.edge_jaccard == pytest.approx(1 / 2)
    assert result.per_location()["mlp.post_act"] == (0, 1, 1)
    assert compare(A, A).node_jaccard == 1.0 and compare(A, A).only_b_nodes == []


def test_the_command_prints_a_table_and_json(tmp_path, capsys):
    A.save(tmp_path / "a.json")
    B.save(tmp_path / "b.json")
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "nodes                    1       2       1     0.25" in out
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["edges"] == {"shared": 1, "only_a": 0, "only_b": 1, "jaccard": 0.5}
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
