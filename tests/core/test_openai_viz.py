import json
import pickle
import shutil

import pytest
import torch

from core.circuit import Circuit
from core.cli import main
from core.fileio import FileFormatError
from core.formats import load_model
from core.openai_viz import circuit_from_viz, find_model_dir, viz_layout
from core.provenance import check_circuit_fits, fingerprint
from core.topology import Node
from tests.conftest import FIXTURES

MODEL = FIXTURES / "openai_format" / "layernorm_bias_tied"
VIZ = FIXTURES / "openai_viz" / "viz" / "layernorm_bias_tied" / "single_double_quote" / "prune_v4" / "k_optim"
VIZ_FILE = VIZ / "viz_data.pt"


@pytest.fixture(scope="module")
def raw():
    return torch.load(VIZ_FILE, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def circuit():
    return circuit_from_viz(VIZ_FILE, MODEL)


def test_nodes_are_circuit_data_in_our_names(circuit, raw):
    expected = {f"{site}.{c}" for site, chs in raw["circuit_data"].items() for c in chs.tolist()}
    assert set(circuit.nodes) == expected and len(circuit.nodes) == len(expected)
    assert "0.mlp.post_act.30" in circuit.nodes


def test_edges_are_the_models_nonzero_weights_between_kept_nodes(circuit):
    model = load_model(MODEL)
    topo = model.topology
    weight_edges = [e for e in circuit.edges if e["kind"] == "weight"]
    assert len(weight_edges) >= 10
    kept = set(circuit.nodes)
    for e in weight_edges:
        assert e["src"] in kept and e["dst"] in kept
        key, row, col = topo.wire(Node.parse(e["src"]), Node.parse(e["dst"]))
        assert model.submodule(key).weight[row, col].item() == pytest.approx(e["weight"])
        assert e["weight"] != 0


def test_losses_are_halved_to_our_scale(circuit, raw):
    imp = raw["importances"]
    assert circuit.loss_full == pytest.approx(imp["loss"] / 2)
    assert circuit.loss_circuit == pytest.approx(imp["interv_loss"] / 2)
    site = "0.mlp.post_act"
    for c, loss in zip(raw["circuit_data"][site].tolist(), imp["ch_interv_losses"][site]):
        delta = circuit.extra["node_ablation_delta"][f"{site}.{c}"]
        assert delta == pytest.approx((loss - imp["interv_loss"]) / 2)
    assert circuit.extra["openai_viz"]["pruning_losses"][-1][1] == pytest.approx(raw["all_loss"][-1][1] / 2)


def test_prompts_provenance_and_layout(circuit, raw):
    docs = raw["importances"]["task_samples"][0]
    assert circuit.extra["task_sample_tokens"][0] == docs[0, :9].tolist()  # padding cut off
    assert len(circuit.extra["prompts"]) == len(docs)  # decoded: tinypython/ is above the model
    assert circuit.n_examples == len(docs)
    assert circuit.task == "single_double_quote" and circuit.ablation == "mean"
    assert circuit.model == str(MODEL)
    model = load_model(MODEL)
    assert circuit.extra["model_fingerprint"] == fingerprint(model)
    check_circuit_fits(circuit, model, fingerprint(model), str(MODEL))
    assert viz_layout(VIZ_FILE) == {
        "model": "layernorm_bias_tied",
        "task": "single_double_quote",
        "sweep": "prune_v4",
        "k": "k_optim",
    }


def test_saved_circuit_reads_back(circuit, tmp_path):
    circuit.save(tmp_path / "c.json")
    back = Circuit.load(tmp_path / "c.json")
    assert back.nodes == circuit.nodes and back.edges == circuit.edges
    assert back.extra["node_ablation_delta"] == circuit.extra["node_ablation_delta"]
    d = json.loads((tmp_path / "c.json").read_text())
    d["node_ablation_delta"] = {"0.mlp.nowhere.1": 0.1}
    with pytest.raises(FileFormatError, match="node_ablation_delta"):
        Circuit.from_dict(d, "c.json")


def test_the_model_is_found_beside_viz(tmp_path):
    root = tmp_path / "circuit-sparsity"
    shutil.copytree(FIXTURES / "openai_viz" / "viz", root / "viz")
    shutil.copytree(MODEL, root / "models" / "layernorm_bias_tied")
    viz = root / VIZ_FILE.relative_to(FIXTURES / "openai_viz")
    assert find_model_dir(viz) == (root / "models" / "layernorm_bias_tied").resolve()
    assert len(circuit_from_viz(viz).nodes) > 0
    shutil.rmtree(root / "models")
    with pytest.raises(FileFormatError, match="cannot find its model"):
        circuit_from_viz(viz)


def _broken(tmp_path, raw, change):
    data = pickle.loads(pickle.dumps(raw))  # a deep copy
    change(data)
    path = tmp_path / "viz_data.pt"
    torch.save(data, path)
    return path


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d.pop("circuit_data"), "missing field 'circuit_data'"),
        (lambda d: d.pop("importances"), "missing field 'importances'"),
        (lambda d: d["importances"].pop("interv_loss"), "missing field 'importances.interv_loss'"),
        (lambda d: d["importances"].update(loss="low"), "field 'importances.loss'"),
        (
            lambda d: d["circuit_data"].update({"0.mlp.nowhere": torch.tensor([1])}),
            "circuit_data['0.mlp.nowhere']",
        ),
        (lambda d: d["circuit_data"].update({"0.mlp.post_act": torch.tensor([999])}), "index out of range"),
        (
            lambda d: d["circuit_data"].update({"0.mlp.post_act": torch.tensor([0.5])}),
            "circuit_data['0.mlp.post_act']",
        ),
        (
            lambda d: d["importances"]["ch_interv_losses"]["0.mlp.post_act"].pop(),
            "importances.ch_interv_losses['0.mlp.post_act']",
        ),
        (lambda d: d.update(all_loss=[(0,)]), "all_loss[0]"),
    ],
)
def test_bad_fields_are_named(tmp_path, raw, change, field):
    path = _broken(tmp_path, raw, change)
    with pytest.raises(FileFormatError, match=str(path).replace("\\", "\\\\")) as e:
        circuit_from_viz(path, MODEL)
    assert field in str(e.value)


def test_not_a_dict_or_not_a_file(tmp_path):
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(FileFormatError, match="expected a dict"):
        circuit_from_viz(tmp_path / "list.pt", MODEL)
    with pytest.raises(FileFormatError, match="cannot read"):
        circuit_from_viz(tmp_path / "missing.pt", MODEL)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(FileFormatError, match="not a readable viz_data.pt"):
        circuit_from_viz(tmp_path / "junk.pt", MODEL)


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def test_a_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"circuit_data": {}, "importances": _Exploit()}, tmp_path / "evil.pt")
    with pytest.raises(FileFormatError, match="not a readable viz_data.pt"):
        circuit_from_viz(tmp_path / "evil.pt", MODEL)
    assert not (tmp_path / "PWNED").exists()


def test_import_viz_command(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["import-viz", str(VIZ_FILE), "--model", str(MODEL), "--out", str(out)]) == 0
    assert "halved" in capsys.readouterr().err
    assert Circuit.load(out).n_edges >= 10
    assert main(["import-viz", str(VIZ_FILE), "--out", str(out)]) == 2  # no models/ beside viz/
    assert "cannot find its model" in capsys.readouterr().err
