import numpy as np
import pytest
import torch

from core import GPT
from core.class_stats import ClassActivations, class_activations, class_pairs, oriented
from core.interventions import Intervention
from core.means import compute_means
from core.pipelines.events import ClassesSampled, SampleProgress
from core.tasks import BUILTIN_TASKS, Example, FileTask, pair
from tests.conftest import tiny_config

QUOTES = BUILTIN_TASKS["single_double_quote"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(tiny_config()).eval()


def test_class_one_is_the_prompt_whose_answer_is_the_first_candidate():
    p, q = pair("a'", 'a"', "')", '")'), pair("b'", 'b"', "')", '")')
    flipped = oriented([p, type(q)(q.b, q.a)])
    assert [x.a.correct for x in flipped] == ["')", "')"]
    # A pair with neither answer keeps its order.
    r = pair("x = [1", "x = [[1], [2", "]", "]]")
    assert oriented([p, r])[1] == r


def test_pairs_are_the_tasks_held_out_pairs_with_labels(tokenizer):
    pairs = class_pairs(QUOTES, tokenizer, 64, n_examples=40)
    assert pairs.labels == ("')", '")') and pairs.n_pairs == 20
    ex = pairs.batch.examples
    assert all(a.correct == "')" and b.correct == '")' for a, b in zip(ex[0::2], ex[1::2]))
    assert all(a.correct == b.incorrect for a, b in zip(ex[0::2], ex[1::2]))
    # A task file's twins are its pairs; a line without one is left out.
    twins = [Example("print('hello", "')", '")'), Example('print("hello', '")', "')")]
    lines = [twins, [Example("len('world", "')", '")')]]
    assert class_pairs(FileTask("f", "", lines), tokenizer, 64).n_pairs == 1


def test_values_are_the_nodes_activation_at_the_last_token(model, tokenizer):
    pairs = class_pairs(QUOTES, tokenizer, 64, n_examples=20)
    nodes = ["0.mlp.post_act.3", "1.attn.v.5", "0.attn.resid_delta.7"]
    events = list(class_activations(model, pairs, nodes, batch_size=8))
    assert events[:-1] == [(8, 20), (16, 20), (20, 20)]
    result = events[-1]
    for node in nodes:
        site, index = node.rsplit(".", 1)
        expected = []
        for e in pairs.batch.examples:
            _, cache = model.run_with_cache(torch.tensor([tokenizer.encode(e.prompt)]), [site])
            expected.append(float(cache[site][0, -1, int(index)]))
        got = result[node]
        np.testing.assert_allclose(got.class1, expected[0::2], atol=1e-5)
        np.testing.assert_allclose(got.class2, expected[1::2], atol=1e-5)
        np.testing.assert_allclose(got.diff, got.class1 - got.class2)


def test_the_users_interventions_apply(model, tokenizer, small_stream):
    pairs = class_pairs(QUOTES, tokenizer, 64, n_examples=20)
    node = "1.mlp.post_act.4"
    means = compute_means(model, small_stream, n_batches=2, batch_size=4)
    zeroed = list(class_activations(model, pairs, [node], [Intervention("node", node, "zero")]))[-1][node]
    assert not zeroed.class1.any() and not zeroed.class2.any() and zeroed.separation == 0.0
    by_mean = list(class_activations(model, pairs, [node], [Intervention("node", node)], means))[-1][node]
    assert np.allclose(by_mean.class1, float(means["1.mlp.post_act"][4]))
    upstream = [Intervention("node", f"0.mlp.post_act.{i}", "zero") for i in range(64)]
    before = list(class_activations(model, pairs, [node]))[-1][node]
    after = list(class_activations(model, pairs, [node], upstream))[-1][node]
    assert not np.allclose(before.class1, after.class1)


def test_separation_is_the_share_of_pairs_with_the_majority_sign():
    a = ClassActivations("n", ("x", "y"), np.array([1.0, 2, 3, 0, 5]), np.array([0.0, 0, 4, 0, 1]))
    assert a.separation == pytest.approx(3 / 5)  # +, +, -, 0, +


def test_the_pipeline_reports_progress_then_the_values(model, tokenizer):
    from types import SimpleNamespace

    from core.pipelines.sampling import class_sample

    bench = SimpleNamespace(model=model, tokenizer=tokenizer, means=None)  # what it reads
    events = list(class_sample(bench, QUOTES, ["0.mlp.post_act.1"], n_examples=16))
    assert any(isinstance(e, SampleProgress) for e in events)
    assert isinstance(events[-1], ClassesSampled) and events[-1].values["0.mlp.post_act.1"].class1.size == 8
