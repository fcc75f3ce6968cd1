"""The JSON formats' checks: every bad file gives one line naming the file and the field."""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.circuit import Circuit
from core.fileio import FileFormatError

CIRCUITS = Path(__file__).parents[2] / "resources" / "default_model" / "circuits"


def good_circuit() -> dict:
    return Circuit(
        "bracket_counting",
        0.15,
        "mean",
        ["0.mlp.act_in.5", "0.mlp.post_act.3"],
        [{"src": "0.mlp.act_in.5", "dst": "0.mlp.post_act.3", "weight": 0.7, "kind": "weight"}],
        0.01,
        0.12,
        seed=3,
        calibration={"scale": 1.5, "shift": 0.1},
        checks={"sufficiency_loss": 0.12},
        extra={"prune_seconds": 2.5},
    ).to_dict()


def error_of(data, source="c.json") -> str:
    with pytest.raises(FileFormatError) as e:
        Circuit.from_dict(data, source)
    message = str(e.value)
    assert message.startswith(f"{source}: ") and "\n" not in message, message
    return message


# ---- circuits ---------------------------------------------------------------------------------


def test_every_shipped_circuit_loads_and_writes_back_the_same_json():
    files = sorted(CIRCUITS.glob("*.json"))
    assert len(files) >= 10
    for path in files:
        data = json.loads(path.read_text())
        assert json.dumps(Circuit.load(path).to_dict()) == json.dumps(data), path


def test_unknown_keys_are_kept_and_old_files_without_format_load():
    data = good_circuit()
    data["notes"] = {"by": "hand"}
    del data["format"], data["n_nodes"], data["n_edges"], data["seed"], data["calibration"]
    circuit = Circuit.from_dict(data, "c.json")
    assert circuit.extra == {"prune_seconds": 2.5, "notes": {"by": "hand"}}
    assert circuit.seed == 0 and circuit.calibration is None
    assert circuit.to_dict()["notes"] == {"by": "hand"}


def test_an_old_file_whose_n_edges_counted_residual_links_reads_with_the_papers_count():
    data = good_circuit()
    data["nodes"] += ["0.attn.resid_delta.5"]
    data["edges"].append(
        {"src": "0.attn.resid_delta.5", "dst": "0.mlp.act_in.5", "weight": 1.0, "kind": "residual"}
    )
    del data["nodes_per_location"], data["n_residual_edges"]
    data["n_nodes"], data["n_edges"] = 3, 2  # as written before: weights and residual links
    circuit = Circuit.from_dict(data, "old.json")
    assert (circuit.n_edges, circuit.n_residual_edges) == (1, 1)
    assert circuit.extra == {"prune_seconds": 2.5}  # the stored counts are not kept as extras
    written = circuit.to_dict()
    assert (written["n_edges"], written["n_residual_edges"]) == (1, 1)
    assert written["nodes_per_location"]["attn.resid_delta"] == 1
    assert list(written)[:8] == [
        "format",
        "task",
        "target_loss",
        "ablation",
        "n_nodes",
        "nodes_per_location",
        "n_edges",
        "n_residual_edges",
    ]


def test_stored_counts_are_recomputed_from_the_nodes_and_edges():
    data = good_circuit()
    data.update(n_nodes=9, n_edges=9, n_residual_edges=9, nodes_per_location={"attn.q": 9})
    assert Circuit.from_dict(data).to_dict() == good_circuit()


def test_edges_keep_their_keys_as_written():
    data = good_circuit()
    data["edges"] = [{"src": "0.mlp.act_in.5", "dst": "0.mlp.post_act.3", "weight": 1, "w2": 3}]
    assert Circuit.from_dict(data).edges == data["edges"]  # no kind added


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d.pop("task"), "c.json: missing field 'task'"),
        (
            lambda d: d["nodes"].__setitem__(1, "0.mlp.nowhere.3"),
            "c.json: field 'nodes[1]': '0.mlp.nowhere.3' is not a node name like '0.mlp.post_act.12'",
        ),
        (lambda d: d["nodes"].__setitem__(0, 7), "c.json: field 'nodes[0]': must be a string (got 7)"),
        (lambda d: d.update(nodes="0.mlp.act_in.5"), "c.json: field 'nodes': must be a list"),
        (lambda d: d.update(target_loss="0.15"), "c.json: field 'target_loss': must be a number"),
        (lambda d: d.update(target_loss=True), "c.json: field 'target_loss': must be a number"),
        (lambda d: d.update(seed=1.5), "c.json: field 'seed': must be a whole number (got 1.5)"),
        (lambda d: d.update(ablation="avg"), "c.json: field 'ablation': must be mean or zero"),
        (lambda d: d["edges"][0].pop("weight"), "c.json: missing field 'edges[0].weight'"),
        (
            lambda d: d["edges"][0].update(dst="0.mlp.post_act"),
            "c.json: field 'edges[0].dst': '0.mlp.post_act' is not a node",
        ),
        (
            lambda d: d["edges"][0].update(kind="wire"),
            "c.json: field 'edges[0].kind': must be weight or residual (got \"wire\")",
        ),
        (lambda d: d["edges"].append([1, 2]), "c.json: field 'edges[1]': must be an object"),
        (lambda d: d["calibration"].pop("shift"), "c.json: missing field 'calibration.shift'"),
        (lambda d: d.update(checks=[]), "c.json: field 'checks': must be an object"),
        (
            lambda d: d.update(loss_vs_k=[[0, 0.7], [0.5, 0.1]]),
            "c.json: field 'loss_vs_k[1]': k must be a whole number of nodes (got 0.5)",
        ),
        (lambda d: d.update(loss_vs_k=[[3]]), "c.json: field 'loss_vs_k[0]': must be [k, loss] (got [3.0])"),
    ],
)
def test_bad_circuits_name_the_file_and_the_field(edit, expected):
    data = good_circuit()
    edit(data)
    assert error_of(data).startswith(expected)


def test_a_file_of_another_kind_is_named_as_such_alone():
    message = error_of({"format": "sparse-circuits-workspace", "version": 1})
    assert message == (
        "c.json: field 'format': must be sparse-circuits-circuit (got \"sparse-circuits-workspace\")"
    )


def test_several_problems_are_listed_on_one_line():
    message = error_of({"task": "x", "nodes": []})
    assert message.startswith("c.json: missing field 'target_loss'; missing field 'ablation'; ")
    assert message.endswith("and 2 more")
    assert error_of([1, 2]) == "c.json: must be an object (got [1, 2])"


def test_load_names_the_path(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**good_circuit(), "loss_full": None}))
    with pytest.raises(
        FileFormatError,
        match=r"bad\.json: field 'loss_full': must be a number "
        r"\(got null\)",
    ):
        Circuit.load(path)


def json_values():
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
        | st.sampled_from(["0.mlp.post_act.3", "mean", "weight", "0.attn.q"])
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )


def paths_in(value, path=()):
    """Every place in a JSON value, as a list of keys and indexes."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_in(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths_in(v, path + (i,))


def replaced(data, path, value):
    data = copy.deepcopy(data)
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_circuits_load_or_fail_with_one_line(data):
    good = good_circuit()
    path = data.draw(st.sampled_from(list(paths_in(good))))
    bad = replaced(good, path, data.draw(json_values()))
    try:
        Circuit.from_dict(bad, "c.json")
    except FileFormatError as e:
        message = str(e)
        assert message.startswith("c.json: ") and "\n" not in message
        assert "field '" in message or message.startswith("c.json: must be an object")


# ---- task files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"prompt": "x = [1", "correct": "]"}', "t.jsonl:2: missing field 'incorrect'"),
        (
            '{"prompt": "x = [1", "correct": 93, "incorrect": "]]"}',
            "t.jsonl:2: field 'correct': must be a string (got 93)",
        ),
        ('{"prompt": "", "correct": "]", "incorrect": "]]"}', "t.jsonl:2: field 'prompt': must not be empty"),
        ('["x = [1", "]", "]]"]', 't.jsonl:2: must be an object (got ["x = [1", "]", "]]"])'),
        ('{"prompt": "x = [1", ', "t.jsonl:2: not valid JSON (EOF while parsing"),
    ],
)
def test_bad_task_lines_name_the_file_line_and_field(tmp_path, line, expected):
    from core.tasks import TaskError, load_task_file

    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"prompt": "x = [1", "correct": "]", "incorrect": "]]", "note": "kept out"}\n' + line + "\n"
    )
    with pytest.raises(FileFormatError) as e:
        load_task_file(path)
    assert isinstance(e.value, TaskError)  # what callers caught before
    assert str(e.value).startswith(str(tmp_path / expected)), str(e.value)
    assert "\n" not in str(e.value)


def test_a_task_file_with_no_examples(tmp_path):
    from core.tasks import load_task_file

    (tmp_path / "t.jsonl").write_text("\n  \n")
    with pytest.raises(FileFormatError, match=r"t\.jsonl: no examples"):
        load_task_file(tmp_path / "t.jsonl")


def test_a_key_with_a_newline_is_named_on_one_line():
    from core.schemas import field_path

    assert field_path(("circuit", "inline", "nodes_per_location", "\n")) == (
        'circuit.inline.nodes_per_location."\\n"'
    )
    assert field_path(("interventions", 0, "mode")) == "interventions[0].mode"
