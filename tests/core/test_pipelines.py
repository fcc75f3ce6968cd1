"""The long jobs as core pipelines: their events, their numbers held against the direct core
calls, and stopping them between steps."""

import pytest

from core.checks import CheckProgress
from core.data.sources import TrainingData
from core.interventions import Intervention
from core.means import compute_means
from core.outputs import predict
from core.pipelines.effects import ablation_effects, effect_metric
from core.pipelines.events import (
    CircuitReady,
    EffectsBatch,
    Finished,
    PruneEvent,
    SampleProgress,
    Status,
    TokensSampled,
    TrainEvent,
    TrainingStarted,
    WeightsSnapshot,
)
from core.pipelines.pruning import prune_and_check
from core.pipelines.sampling import corpus_sample
from core.pipelines.training import TrainingSpec, run_state, training
from core.presets import preset
from core.prune import PruneConfig
from core.tasks import BUILTIN_TASKS
from core.train import CHECKPOINT_DIR, Trainer
from core.workbench import Workbench
from tests.conftest import tiny_config, tiny_train_config

STEPS = 6


@pytest.fixture(scope="module")
def data(small_stream, tokenizer):
    return TrainingData(small_stream, tokenizer, "test corpus")


def losses(events) -> dict[int, float]:
    """The loss at each step where it was read back (every log_every steps, the first, the last)."""
    return {e.step: e.loss for e in events if isinstance(e, TrainEvent) and e.kind != "done" and e.logged}


def test_training_yields_its_events_and_the_trainers_losses(tmp_path, data):
    spec = TrainingSpec(tmp_path / "run", "tiny", steps=STEPS, seed=3, device="cpu", data=data)
    events = list(training(spec, snapshot_every=4))
    assert isinstance(events[0], Status)
    started = events[1]
    assert isinstance(started, TrainingStarted)
    assert (started.preset, started.start_step, started.total_steps) == ("tiny", 0, STEPS)
    assert started.device == "cpu" and started.data == "test corpus" and started.n_params > 0
    assert events[-1] == Finished(str(tmp_path / "run" / CHECKPOINT_DIR))
    snapshots = [e for e in events if isinstance(e, WeightsSnapshot)]
    assert len(snapshots) == 3  # before training, at step 4, at the end
    assert (snapshots[-1].array == 0).mean() > (snapshots[0].array == 0).mean()
    # The set-up written once trains exactly as the trainer built by hand always did.
    model_config, train_config = preset("tiny", data.tokenizer.vocab_size)
    train_config.steps, train_config.seed = STEPS, 3
    direct = Trainer(tmp_path / "direct", model_config, train_config, data.stream, data.tokenizer, "cpu")
    assert losses(events) == losses(direct.run())
    assert run_state(tmp_path / "run")["step"] == STEPS


def test_a_closed_training_run_resumes_exactly(tmp_path, data):
    unbroken = losses(training(TrainingSpec(tmp_path / "a", "tiny", steps=STEPS, device="cpu", data=data)))
    events = training(TrainingSpec(tmp_path / "b", "tiny", steps=STEPS, device="cpu", data=data))
    first = []
    for event in events:
        if isinstance(event, TrainEvent):
            first.append(event)
            if event.step == 2:
                break
    events.close()  # cancelled between steps: saved
    assert run_state(tmp_path / "b")["step"] == 2
    resumed = list(training(TrainingSpec(tmp_path / "b", resume=True, device="cpu", data=data)))
    assert next(e for e in resumed if isinstance(e, TrainingStarted)).start_step == 2
    curve = {**losses(first), **losses(resumed)}
    assert sorted(curve) == [1, 3, STEPS]  # a resumed run reads its first step back
    assert sorted(unbroken) == [1, STEPS]
    assert [curve[1], curve[STEPS]] == pytest.approx([unbroken[1], unbroken[STEPS]], abs=1e-6)


def test_training_refuses_bad_settings_before_reading_anything(tmp_path, data):
    with pytest.raises(ValueError, match="unknown preset"):
        next(training(TrainingSpec(tmp_path, "huge", data=data)))
    with pytest.raises(ValueError, match="positive"):
        next(training(TrainingSpec(tmp_path, steps=0, data=data)))
    with pytest.raises(FileExistsError, match="nothing to resume"):
        next(training(TrainingSpec(tmp_path, resume=True, data=data)))


@pytest.fixture(scope="module")
def bench(tmp_path_factory, small_stream, tokenizer):
    """A tiny trained model, its means from the small test stream (not the full corpus)."""
    run = tmp_path_factory.mktemp("run")
    list(
        Trainer(
            run, tiny_config(), tiny_train_config(steps=30, ckpt_every=30), small_stream, tokenizer, "cpu"
        ).run()
    )
    bench = Workbench(run)
    bench.__dict__["means"] = compute_means(bench.model, small_stream, n_batches=2, batch_size=4)
    bench.stream = lambda quick=False: small_stream
    return bench


def test_prune_and_check_yields_a_circuit_with_its_checks(bench):
    task = BUILTIN_TASKS["bracket_counting"]
    config = PruneConfig(target_loss=0.6, steps=10)
    events = list(prune_and_check(bench, task, config, 32, checks=True))
    optimize = [e for e in events if isinstance(e, PruneEvent) and e.phase == "optimize"]
    assert [e.step for e in optimize] == list(range(1, 11))
    status = events.index(Status("running the faithfulness checks…"))
    checks = events[status + 1 : -1]
    assert checks and all(isinstance(e, CheckProgress) for e in checks)
    assert [e.overall for e in checks] == sorted(e.overall for e in checks)  # never goes back
    assert checks[-1].overall == 1.0
    ready = events[-1]
    assert isinstance(ready, CircuitReady)
    circuit = ready.circuit
    assert circuit.task == "bracket_counting" and circuit.model == bench.ref
    assert circuit.extra["model_fingerprint"] == bench.fingerprint
    assert circuit.extra["means_corpus"] == bench.corpus_description == "embedded corpus"
    assert circuit.checks == {e.check: e.value for e in checks if e.value is not None}
    assert set(circuit.checks) >= {"sufficiency_loss", "necessity_loss", "heldout_loss"}
    assert circuit.checks["sufficiency_loss"] == pytest.approx(circuit.loss_circuit, abs=1e-4)
    without = list(prune_and_check(bench, task, config, 32))
    assert not any(isinstance(e, Status) for e in without)
    assert without[-1].circuit.nodes == circuit.nodes and not without[-1].circuit.checks


def test_a_closed_pruning_run_gives_the_model_back(bench):
    bench.model.requires_grad_(True)  # a model being trained, say: its flags come back
    events = prune_and_check(bench, BUILTIN_TASKS["bracket_counting"], PruneConfig(steps=50), 32)
    for event in events:
        if isinstance(event, PruneEvent) and event.step == 3:
            break
    assert not any(p.requires_grad for p in bench.model.parameters())  # frozen while pruning
    events.close()
    assert all(p.requires_grad for p in bench.model.parameters())
    bench.model.requires_grad_(False)  # as Workbench opened it


def test_ablation_effects_are_the_predict_differences(bench):
    example = BUILTIN_TASKS["single_double_quote"].examples(1, "heldout")[0]
    ids = bench.tokenizer.encode(example.prompt)
    candidates = (example.correct, example.incorrect)
    nodes = ["0.mlp.post_act.0", "0.attn.v.1", "1.mlp.post_act.2"]
    active = [Intervention("node", "0.attn.q.0", "zero")]
    batches = list(
        ablation_effects(
            bench.model, bench.tokenizer, ids, active, bench.means, candidates, -1, nodes, batch_s=0.0
        )
    )
    assert all(isinstance(b, EffectsBatch) for b in batches) and len(batches) == len(nodes)
    effects = {k: v for b in batches for k, v in b.effects.items()}
    now = predict(bench.model, bench.tokenizer, ids, active, bench.means, candidates)
    assert effect_metric(now)[0] == "logit difference"
    for node in nodes:
        after = predict(
            bench.model, bench.tokenizer, ids, [*active, Intervention("node", node)], bench.means, candidates
        )
        assert effects[node] == pytest.approx(after.logit_diff - now.logit_diff, abs=1e-6)
    # Without candidates: the log-probability of the token predicted now.
    plain = list(ablation_effects(bench.model, bench.tokenizer, ids, [], bench.means, None, -1, nodes[:1]))
    assert effect_metric(predict(bench.model, bench.tokenizer, ids))[0].startswith("log p(")
    assert set(plain[0].effects) == {nodes[0]}


def test_edge_effects_are_the_predict_differences_of_edge_ablations(bench):
    """Per-edge attribution: the same generator, given edges (a weight and a residual channel),
    on top of a patch from the paired prompt."""
    from core.circuit import extract_edges

    pair = BUILTIN_TASKS["single_double_quote"].pairs(1, "heldout")[0]
    tok, model = bench.tokenizer, bench.model
    ids, source = tok.encode(pair.a.prompt), tok.encode(pair.b.prompt)
    candidates = (pair.a.correct, pair.a.incorrect)
    nodes = [n for n in model.topology.all_nodes() if n.split(".")[-1] in ("0", "1", "2", "3")]
    found = extract_edges(model, nodes)
    weight = next(e for e in found if e.get("kind", "weight") == "weight")
    residual = next(e for e in found if e.get("kind") == "residual")
    edges = [f"{e['src']}->{e['dst']}" for e in (weight, residual)]
    active = [Intervention("node", "0.attn.v.1", "patch")]
    batches = list(
        ablation_effects(
            model, tok, ids, active, bench.means, candidates, -1, edges, batch_s=0.0, source=source
        )
    )
    effects = {k: v for b in batches for k, v in b.effects.items()}
    now = predict(model, tok, ids, active, bench.means, candidates, source=source)
    assert set(effects) == set(edges)
    for edge in edges:
        cut = [*active, Intervention("edge", edge)]
        after = predict(model, tok, ids, cut, bench.means, candidates, source=source)
        assert effects[edge] == pytest.approx(after.logit_diff - now.logit_diff, abs=1e-6)
    with pytest.raises(ValueError, match="no pair"):  # the patch needs its source
        list(ablation_effects(model, tok, ids, active, bench.means, candidates, -1, edges))


def test_corpus_sample_reads_tokens_then_the_nodes_asked_for(bench):
    events = list(corpus_sample(bench, None, ["0.mlp.post_act.3", "1.attn.q.0"]))
    tokens = next(e for e in events if isinstance(e, TokensSampled))
    assert tokens.ids.ndim == 2
    progress = [e for e in events if isinstance(e, SampleProgress)]
    assert progress[-1].done == progress[-1].total == len(tokens.ids)
    values = events[-1].values
    assert set(values) == {"0.mlp.post_act.3", "1.attn.q.0"}
    assert values["1.attn.q.0"].shape == tokens.ids.shape
    again = list(corpus_sample(bench, tokens.ids, ["0.mlp.post_act.3"]))
    assert not any(isinstance(e, TokensSampled) for e in again)
    assert (again[-1].values["0.mlp.post_act.3"] == values["0.mlp.post_act.3"]).all()
