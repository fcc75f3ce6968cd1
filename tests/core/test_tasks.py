import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.taskeval import check_example, encode_examples, evaluate, two_token_loss
from core.tasks import BUILTIN_TASKS, Example, TaskError, get_task, load_task_file

REQUIRED = {
    "single_double_quote",
    "bracket_counting",
    "set_or_string",
    "set_or_string_fixedvarname",
    "final_kwarg",
    "bracket_brace",
    "for_while",
    "if_equals",
    "else_elif",
    "paren_counting",
    "append_or_add",
    "range_enumerate",
}


def test_the_suite_has_every_task():
    assert REQUIRED <= set(BUILTIN_TASKS) and len(BUILTIN_TASKS) >= 12


@pytest.mark.parametrize("name", sorted(BUILTIN_TASKS))
def test_every_task_is_minimal_pairs_of_a_two_way_decision(name):
    """Each pair: two prompts, each one's correct answer the other's incorrect one; the
    examples are the pairs' prompts, so within a pair each answer is once right, once wrong."""
    task = BUILTIN_TASKS[name]
    pairs = task.pairs(50, "train", seed=1)
    assert len(pairs) == 50
    for p in pairs:
        assert p.a.prompt != p.b.prompt
        assert (p.a.correct, p.a.incorrect) == (p.b.incorrect, p.b.correct)
    examples = task.examples(100, "train", seed=1)
    assert examples == [e for p in pairs for e in (p.a, p.b)]


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_task_splits_are_seeded_and_disjoint(name, tokenizer):
    task = BUILTIN_TASKS[name]
    train, again = task.examples(100, "train", seed=3), task.examples(100, "train", seed=3)
    assert train == again
    heldout = task.examples(100, "heldout", seed=3)
    assert len(train) == 100 and len(heldout) >= 50
    assert not {e.prompt for e in train} & {e.prompt for e in heldout}
    batch = encode_examples(train, tokenizer, block_size=256)
    assert len(batch.rejected) == 0, batch.rejected[:2]
    corrects = {e.correct for e in train}
    assert len(corrects) >= 2  # both answers occur


def test_pairs_that_cannot_be_judged_are_rejected_with_reasons(tokenizer):
    assert "not a single token" in check_example(Example("x = ", "hello world", "]"), tokenizer, 64)
    assert "same token" in check_example(Example("x = [1", "]", "]"), tokenizer, 64)
    assert "merges" in check_example(Example("x = [", "[", "1"), tokenizer, 64)
    long = Example("x = 1\n" * 100, " =", " ==")
    assert "more than" in check_example(long, tokenizer, 64)
    with pytest.raises(ValueError, match="no usable examples"):
        encode_examples([Example("x = ", "hello world", "]")], tokenizer, 64)


def test_two_token_loss():
    pair = torch.tensor([[0.0, 0.0], [3.0, 1.0]])
    losses = two_token_loss(pair, reduce=False)
    assert losses[0] == pytest.approx(math.log(2))
    assert losses[1] == pytest.approx(-torch.log_softmax(pair[1], 0)[0].item())


def test_evaluate_reads_the_last_prompt_position(tokenizer):
    from core import GPT
    from tests.conftest import tiny_config

    model = GPT(tiny_config()).eval()
    examples = [Example("x = [1, 2", "]", "]]"), Example("y = [[1], [2", "]]", "]")]
    batch = encode_examples(examples, tokenizer, 32)
    result = evaluate(model, batch)
    for e in examples:
        ids = torch.tensor([tokenizer.encode(e.prompt)])
        last = model(ids)[0, -1]
        pair = torch.stack([last[tokenizer.token_id(e.correct)], last[tokenizer.token_id(e.incorrect)]])
        expected = two_token_loss(pair.unsqueeze(0)).item()
        batch_i = encode_examples([e], tokenizer, 32)
        assert evaluate(model, batch_i)["task_loss"] == pytest.approx(expected, abs=1e-5)
    assert 0 <= result["accuracy"] <= 1


def test_a_user_task_file_may_give_minimal_pairs(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"prompt": "x = [1", "correct": "]", "incorrect": "]]", "pair": "x = [[1], [2"}\n')
    (a, b) = get_task(str(path)).examples(10, "train")
    assert (a.prompt, a.correct, a.incorrect) == ("x = [1", "]", "]]")
    assert (b.prompt, b.correct, b.incorrect) == ("x = [[1], [2", "]]", "]")


def test_length_groups_and_last_position_logits_give_the_whole_batchs_losses(tokenizer):
    from core import GPT
    from core.taskeval import candidate_logits
    from tests.conftest import tiny_config

    torch.manual_seed(0)
    model = GPT(tiny_config()).eval()
    batch = encode_examples(BUILTIN_TASKS["bracket_counting"].examples(24), tokenizer, 64)
    rows = torch.arange(len(batch))
    full = model(batch.input_ids)[rows, batch.last_pos]
    torch.testing.assert_close(model(batch.input_ids, last=batch.last_pos), full)
    groups = batch.by_length(4)
    assert sorted(e.prompt for g in groups for e in g.examples) == sorted(e.prompt for e in batch.examples)
    assert all(g.input_ids.shape[1] == int(g.last_pos.max()) + 1 for g in groups)
    widths = [g.input_ids.shape[1] for g in groups]
    assert max(widths) == batch.input_ids.shape[1] and min(widths) < max(widths)
    grouped = torch.cat([two_token_loss(candidate_logits(model, g), reduce=False) for g in groups])
    whole = two_token_loss(candidate_logits(model, batch), reduce=False)
    assert grouped.mean().item() == pytest.approx(whole.mean().item(), abs=1e-6)


def test_user_task_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    lines = [f'{{"prompt": "x = [{i}", "correct": "]", "incorrect": "]]"}}' for i in range(10)]
    path.write_text("\n".join(lines) + "\n")
    task = get_task(str(path))
    assert task.name == "mine"
    assert len(task.examples(100, "train")) == 8 and len(task.examples(100, "heldout")) == 2
    path.write_text(lines[0] + "\n{oops\n")
    with pytest.raises(TaskError, match="mine.jsonl:2"):
        load_task_file(path)
    path.write_text('{"prompt": "x", "correct": ""}\n')
    with pytest.raises(
        TaskError,
        match=r"mine.jsonl:1: field 'correct': must not be empty; "
        r"missing field 'incorrect'",
    ):
        load_task_file(path)
    with pytest.raises(TaskError, match="unknown task"):
        get_task("no_such_task")


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(BUILTIN_TASKS)),
    n_train=st.integers(1, 600),
    n_heldout=st.integers(1, 100),
    seeds=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
)
def test_held_out_examples_never_appear_in_any_training_set(name, n_train, n_heldout, seeds):
    task = BUILTIN_TASKS[name]
    train = {e.prompt for e in task.examples(n_train, "train", seeds[0])}
    heldout = {e.prompt for e in task.examples(n_heldout, "heldout", seeds[1])}
    assert not train & heldout
