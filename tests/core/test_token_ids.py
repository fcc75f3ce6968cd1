"""An OpenAI model without its tokenizer opens on token ids: never text through another
tokenizer, and what needs text (means, tasks, the corpus) is refused in words."""

import pytest

from core.commands.bench import SMALL_SHAPE, write_openai_model
from core.data.token_ids import TokenIds
from core.data.tokenizer import TokenizerError
from core.interventions import Intervention
from core.outputs import predict
from core.tasks import BUILTIN_TASKS
from core.workbench import Workbench


def test_ids_are_read_and_shown_as_ids():
    ids = TokenIds(2048)
    assert ids.encode(" 12 7,2047\n") == [12, 7, 2047]
    assert ids.decode([12, 7]) == "12 7" and ids.token_text(5) == "#5"
    assert ids.token_id("#12") == 12 and ids.token_id("12") == 12 and ids.token_id("x") is None
    assert ids.token_id("2048") is None
    for bad in ("x = 1", "2048", "-1"):
        with pytest.raises(TokenizerError, match="not a token id"):
            ids.encode(bad)


def test_a_model_without_its_tokenizer_opens_on_ids(tmp_path):
    write_openai_model(tmp_path / "toy", SMALL_SHAPE, density=0.25)
    bench = Workbench(tmp_path / "toy")
    assert not bench.reads_text and isinstance(bench.tokenizer, TokenIds)
    base = predict(bench.model, bench.tokenizer, [1, 2, 3], [], None, None, 2)
    assert base.top[0][1] == f"#{base.top[0][0]}"
    zeroed = predict(
        bench.model,
        bench.tokenizer,
        [1, 2, 3],
        [Intervention("node", "0.mlp.post_act.1", "zero")],
        None,
        None,
        2,
    )
    assert zeroed.top != base.top
    for needs_text in (lambda: bench.means, bench.stream, lambda: bench.batch(BUILTIN_TASKS["if_equals"])):
        with pytest.raises(ValueError, match="tinypython folder"):
            needs_text()
    assert list(bench.iter_means()) == []  # opening computes no means for it
