"""Every file we read, broken in generated ways: truncated, empty, garbage, wrong types, missing
and extra fields, NaN and infinities, absurd sizes, a pickle that would run code, a symlink to
nowhere, a folder where a file should be. Each case must load or be refused with one line that
names the file (FileFormatError, ValueError or OSError, which the CLI turns into exit status 2
and the app into a dialog) and leave the file as it was; never another exception, never code
run. A case that loads is damage the format cannot tell (a changed byte inside a weight, an
extra field we ignore). The counts are printed at the end of the run (tests/fuzz/conftest.py)."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.circuit import Circuit
from core.data.tinypython import load_tokenizer
from core.fileio import FileFormatError
from core.formats import load_checkpoint, save_checkpoint
from core.means import MEANS_FILE, load_or_compute_means
from core.model import GPT
from core.openai_viz import circuit_from_viz
from core.tasks import load_task_file
from tests.conftest import FIXTURES, tiny_config
from tests.fuzz.counts import record

CASES = 30  # generated cases per file kind
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
RAN_CODE = Path(os.environ.get("TMPDIR", "/tmp")) / "sparse-circuits-fuzz-ran-code"


class RunsCode:
    """Unpickling this would run code: weights-only loading must refuse it."""

    def __reduce__(self):
        return (Path.touch, (RAN_CODE,))


# ---- how a file is broken ----------------------------------------------------------------------

JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300]),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths_in(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_in(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:5]):
            yield from paths_in(v, (*prefix, i))


@st.composite
def broken_json(draw, original: bytes):
    data = json.loads(original)
    paths = [p for p in paths_in(data) if p]
    how = draw(st.sampled_from(["value", "drop", "extra", "bytes"]))
    if how == "bytes" or not paths:
        return draw(broken_bytes(original))
    path = draw(st.sampled_from(paths))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if how == "value":
        parent[path[-1]] = draw(JSON_VALUES)
    elif how == "drop":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=8))] = draw(JSON_VALUES)
    return json.dumps(data, allow_nan=True).encode()


@st.composite
def broken_bytes(draw, original: bytes):
    how = draw(st.sampled_from(["empty", "truncate", "garbage", "flip", "pickle"]))
    if how == "empty":
        return b""
    if how == "truncate":
        return original[: draw(st.integers(0, max(0, len(original) - 1)))]
    if how == "garbage":
        return draw(st.binary(min_size=1, max_size=2000))
    if how == "pickle":
        return pickle.dumps({"model": RunsCode()})
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def breakage(original: bytes, is_json: bool):
    damage = broken_json(original) if is_json else broken_bytes(original)
    return st.one_of(
        damage.map(lambda b: ("bytes", b)), st.sampled_from([("symlink", None), ("folder", None)])
    )


def apply(path: Path, kind: str, data: bytes | None) -> None:
    path.unlink(missing_ok=True)
    if kind == "bytes":
        path.write_bytes(data)
    elif kind == "symlink":
        path.symlink_to(path.parent / "nowhere")
    else:
        path.mkdir()


def check_case(kind: str, path: Path, load, may_rewrite: bool = False) -> None:
    """Load; accept success or a clean refusal naming the file; the file is untouched (a
    cache, `may_rewrite`, may be replaced by a good one)."""
    before = path.read_bytes() if path.is_file() else None
    try:
        load()
        outcome = "loaded"
    except (FileFormatError, ValueError, OSError) as e:
        message = str(e)
        assert path.name in message or path.parent.name in message, f"{kind}: {message!r} names no file"
        assert "\n" not in message.strip() or kind == "tokenizer", message
        outcome = "refused"
    assert not RAN_CODE.exists(), f"{kind}: unpickling ran code"
    if before is not None and not may_rewrite:
        assert path.read_bytes() == before, f"{kind}: the file was changed"
    record(kind, outcome)


def fuzz(kind: str, folder: Path, name: str, load, may_rewrite: bool = False):
    """A hypothesis test breaking `folder/name` (pristine copy kept aside) in CASES ways."""
    pristine = folder.with_name(folder.name + "-pristine")
    shutil.copytree(folder, pristine, symlinks=True)
    original = (folder / name).read_bytes()
    is_json = name.endswith(".json") and not name.startswith("vocab")

    @FUZZ
    @given(case=breakage(original, is_json))
    def run(case):
        shutil.rmtree(folder)
        shutil.copytree(pristine, folder, symlinks=True)
        apply(folder / name, *case)
        check_case(kind, folder / name, load, may_rewrite)

    RAN_CODE.unlink(missing_ok=True)
    run()


# ---- every file we read ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("ours") / "ckpt"
    save_checkpoint(folder, GPT(tiny_config()), tokenizer, {"step": 1})
    return folder


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_our_checkpoint(ours, tmp_path, name):
    folder = tmp_path / "ckpt"
    shutil.copytree(ours, folder)
    fuzz(f"checkpoint {name}", folder, name, lambda: load_checkpoint(folder))


def test_our_means_cache(ours, tmp_path, small_stream):
    folder = tmp_path / "ckpt"
    shutil.copytree(ours, folder)
    model = load_checkpoint(folder).model
    means = load_or_compute_means(model, folder, lambda: small_stream)  # writes the cache
    assert (folder / MEANS_FILE).is_file()

    def load():  # a cache that cannot be read is computed again (and rewritten)
        loaded = load_or_compute_means(model, folder, lambda: small_stream)
        assert set(loaded) >= set(model.hook_points)
        assert all(loaded[k].shape == means[k].shape for k in model.hook_points)

    fuzz("means.safetensors", folder, MEANS_FILE, load, may_rewrite=True)


@pytest.mark.parametrize("name", ["beeg_config.json", "final_model.pt"])
def test_openai_checkpoint(tmp_path, name):
    folder = tmp_path / "openai"
    shutil.copytree(FIXTURES / "openai_format" / "rms_bigram_afrac", folder)
    (folder / "expected.pt").unlink()
    fuzz(f"OpenAI {name}", folder, name, lambda: load_checkpoint(folder))


def test_circuit_json(tmp_path):
    folder = tmp_path / "circuits"
    folder.mkdir()
    shutil.copy(Path("resources/default_model/circuits/bracket_counting.json"), folder / "c.json")
    fuzz("circuit JSON", folder, "c.json", lambda: Circuit.load(folder / "c.json"))


def test_task_jsonl(tmp_path):
    folder = tmp_path / "tasks"
    folder.mkdir()
    lines = [{"prompt": f"x = '{i}", "correct": "'", "incorrect": '"'} for i in range(4)]
    (folder / "mine.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    fuzz("task JSONL", folder, "mine.jsonl", lambda: load_task_file(folder / "mine.jsonl").examples(2))


@pytest.mark.parametrize("name", ["encoder.json", "vocab.bpe"])
def test_tinypython_tokenizer(tmp_path, name):
    folder = tmp_path / "tinypython"
    shutil.copytree(FIXTURES / "tinypython", folder)
    fuzz("tokenizer", folder, name, lambda: load_tokenizer(folder).encode("def f(x):\n    return x"))


def test_viz_data(tmp_path):
    base = tmp_path / "store"
    shutil.copytree(FIXTURES / "openai_viz", base)
    model = base / "models" / "layernorm_bias_tied"
    model.parent.mkdir(exist_ok=True)
    shutil.copytree(FIXTURES / "openai_format" / "layernorm_bias_tied", model)
    viz = next(base.rglob("viz_data.pt"))
    fuzz("viz_data.pt", viz.parent, viz.name, lambda: circuit_from_viz(viz, model))


def test_workspace(tmp_path):
    from app.workspace import Workspace, load_workspace

    folder = tmp_path / "work"
    folder.mkdir()
    circuit_path = Path("resources/default_model/circuits/single_double_quote.json").resolve()
    circuit = Circuit.load(circuit_path)
    workspace = Workspace(
        "default", circuit, str(circuit_path), [], "x = 1", None, None, 0, "circuit", 0, [circuit.nodes[0]]
    )
    (folder / "w.scws.json").write_text(json.dumps(workspace.to_dict()))
    fuzz("workspace", folder, "w.scws.json", lambda: load_workspace(folder / "w.scws.json"))


def test_train_state(ours, tmp_path):
    from core.pipelines.training import TrainingSpec, training

    run = tmp_path / "run"
    shutil.copytree(ours, run / "checkpoint")
    (run / "checkpoint" / "train_state.json").write_text(
        json.dumps({"step": 5, "train_config": {"steps": 10, "batch_size": 2, "seq_len": 16}})
    )

    def resume():  # only as far as reading the state: a good one would start training
        events = training(TrainingSpec(run, resume=True))
        try:
            next(events)
        except StopIteration:
            pass
        finally:
            events.close()

    fuzz("train_state.json", run / "checkpoint", "train_state.json", resume)


def test_formation_result(tmp_path):
    from core.formation_result import FormationResult

    run, out = tmp_path / "run", tmp_path / "formation"
    circuit = Path("resources/default_model/circuits/single_double_quote.json")
    points = []
    for step in (500, 1000):
        (run / "snapshots" / f"step-{step:06d}").mkdir(parents=True)
        (run / "snapshots" / f"step-{step:06d}" / "config.json").write_text("{}")
        (out / "circuits" / f"step-{step:06d}").mkdir(parents=True)
        shutil.copy(circuit, out / "circuits" / f"step-{step:06d}" / "single_double_quote.json")
        row = dict(
            n_nodes=20, n_edges=30, n_residual_edges=1, loss_full=0.02, loss_circuit=0.14, reached=True
        )
        points.append({"step": step, **row})
    result = {"experiment": "formation", "run": str(run), "task": "single_double_quote"}
    (out / "result.json").write_text(json.dumps({**result, "target_loss": 0.15, "points": points}))
    assert len(FormationResult.load(out).steps) == 2
    fuzz("formation result.json", out, "result.json", lambda: FormationResult.load(out))
