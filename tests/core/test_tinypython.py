import json
import shutil

import pytest

import core
from core import load_model
from core.cli import main
from core.data import gpt2_format
from core.data.tinypython import TinyPythonTokenizer, load_tokenizer
from core.data.tokenizer import TokenizerError
from core.tasks import BUILTIN_TASKS
from core.workbench import Workbench
from tests.conftest import FIXTURES

TINYPYTHON = FIXTURES / "tinypython"
CASES = [json.loads(line) for line in (TINYPYTHON / "cases.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def tok():
    return core.load_tokenizer(TINYPYTHON)


def test_every_reference_case_is_reproduced(tok):
    wrong = [c["text"] for c in CASES if tok.encode(c["text"]) != c["ids"]]
    assert not wrong, f"{len(wrong)} of {len(CASES)} differ, e.g. {wrong[0]!r}"
    for case in CASES:
        assert tok.decode(tok.encode(case["text"])) == case["text"]
    assert tok.encode_batch([c["text"] for c in CASES]) == [c["ids"] for c in CASES]


def test_endoftext_is_special_and_not_read_from_text(tok):
    assert tok.vocab_size == 2048
    assert tok.token_text(2047) == "<|endoftext|>"
    assert tok.decode([2047]) == "<|endoftext|>"
    assert 2047 not in tok.encode("x<|endoftext|>y")
    assert tok.decode(tok.encode("x<|endoftext|>y")) == "x<|endoftext|>y"


def test_token_text_shows_every_id(tok):
    texts = [tok.token_text(i) for i in range(tok.vocab_size)]
    assert all(isinstance(t, str) and t for t in texts)
    # Part of a UTF-8 character: its bytes, escaped (日 has no token of its own here).
    assert [tok.token_text(i) for i in tok.encode("日")] == ["\\xe6", "\\x97", "\\xa5"]
    assert tok.token_text(10**6) == "<id 1000000>"


def test_single_token_lookup(tok):
    assert tok.token_id(" missing") == 2046
    assert tok.token_id("x = 1") is None


def write_files(folder, encoder, merges_text):
    folder.mkdir(exist_ok=True)
    (folder / "encoder.json").write_text(encoder if isinstance(encoder, str) else json.dumps(encoder))
    (folder / "vocab.bpe").write_text(merges_text, encoding="utf-8")
    return folder


def good_encoder():
    return json.loads((TINYPYTHON / "encoder.json").read_text(encoding="utf-8"))


GOOD_MERGES = (TINYPYTHON / "vocab.bpe").read_text(encoding="utf-8")
LAST_LINE = GOOD_MERGES.count("\n")


@pytest.mark.parametrize(
    "encoder, merges, fragments",
    [
        pytest.param(
            '{"!": 0, "\\"": 1', GOOD_MERGES, ["encoder.json", "not valid JSON", "line 1"], id="cut"
        ),
        pytest.param("[1, 2]", GOOD_MERGES, ["encoder.json", "JSON object"], id="not-object"),
        pytest.param(
            {**good_encoder(), "Ġmissing": "2046"},
            GOOD_MERGES,
            ["encoder.json", "'Ġmissing'", "'2046'"],
            id="str-id",
        ),
        pytest.param(
            {**good_encoder(), "Ġmissing": 7},
            GOOD_MERGES,
            ["encoder.json", "'Ġmissing'", "ranks it 2046"],
            id="id",
        ),
        pytest.param(
            {**good_encoder(), "Ġnowhere": 3000},
            GOOD_MERGES,
            ["encoder.json", "'Ġnowhere'", "no merge"],
            id="unmade",
        ),
        pytest.param(
            {**good_encoder(), "a b": 3000},
            GOOD_MERGES,
            ["encoder.json", "'a b'", "byte alphabet"],
            id="alphabet",
        ),
        pytest.param(
            good_encoder(),
            GOOD_MERGES.replace("Ġm atch\n", "Ġm atch extra\n"),
            ["vocab.bpe", f"line {LAST_LINE - 1}", "malformed"],
            id="malformed",
        ),
        pytest.param(
            good_encoder(),
            GOOD_MERGES + "Ġzz q\n",
            ["vocab.bpe", f"line {LAST_LINE + 1}", "'Ġzz'"],
            id="unknown",
        ),
        pytest.param(
            good_encoder(),
            GOOD_MERGES + "Ġmissing Ġmatch\n",
            ["encoder.json", "no id for 'ĠmissingĠmatch'"],
            id="extra",
        ),
    ],
)
def test_bad_files_name_the_file_and_place(tmp_path, encoder, merges, fragments):
    folder = write_files(tmp_path / "tok", encoder, merges)
    with pytest.raises(TokenizerError) as e:
        load_tokenizer(folder)
    for fragment in fragments:
        assert fragment in str(e.value), str(e.value)


def test_missing_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(TokenizerError, match="nowhere"):
        load_tokenizer(tmp_path / "nowhere")
    folder = write_files(tmp_path / "tok", good_encoder(), GOOD_MERGES)
    (folder / "vocab.bpe").unlink()
    with pytest.raises(TokenizerError, match="vocab.bpe"):
        load_tokenizer(folder)
    write_files(folder, good_encoder(), GOOD_MERGES)
    monkeypatch.setattr(gpt2_format, "MAX_BYTES", 1000)
    with pytest.raises(TokenizerError, match="vocab.bpe.*larger than"):
        load_tokenizer(folder)


def openai_layout(tmp_path):
    """OpenAI's storage: tinypython/ beside models/NAME/."""
    model = tmp_path / "models" / "csp_tiny"
    shutil.copytree(FIXTURES / "openai_format" / "layernorm_bias_tied", model)
    shutil.copytree(TINYPYTHON, tmp_path / "tinypython")
    return model


def test_openai_model_finds_tinypython_in_a_parent_folder(tmp_path):
    model = load_model(openai_layout(tmp_path))
    assert isinstance(model.tokenizer, TinyPythonTokenizer)
    assert model.tokenizer.source == (tmp_path / "tinypython").resolve()
    case = CASES[1]
    assert model.tokenizer.encode(case["text"]) == case["ids"]


def test_openai_model_takes_a_tokenizer_folder(tmp_path):
    model_dir = tmp_path / "m"
    shutil.copytree(FIXTURES / "openai_format" / "layernorm_bias_tied", model_dir)
    assert load_model(model_dir).tokenizer is None
    bench = Workbench(model_dir)  # opens on token ids, never through another tokenizer
    assert not bench.reads_text
    with pytest.raises(ValueError, match="tinypython"):
        bench.batch(BUILTIN_TASKS["if_equals"])
    model = load_model(model_dir, tokenizer=TINYPYTHON)
    assert model.tokenizer.source == TINYPYTHON
    for name in ("encoder.json", "vocab.bpe"):  # or the two files beside the weights
        shutil.copy(TINYPYTHON / name, model_dir / name)
    assert load_model(model_dir).tokenizer.source == model_dir.resolve()


def test_workbench_refuses_a_tokenizer_larger_than_the_model(tmp_path):
    with pytest.raises(ValueError, match="2048 tokens, more than the model's vocabulary of 96"):
        Workbench(openai_layout(tmp_path))


def test_cli_info_names_the_tokenizer(tmp_path, capsys):
    model = openai_layout(tmp_path)
    assert main(["info", str(model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokenizer"] == str((tmp_path / "tinypython").resolve())
    (tmp_path / "tinypython" / "encoder.json").write_text("{")
    assert main(["info", str(model), "--tokenizer", str(TINYPYTHON)]) == 0
    assert f"tokenizer: {TINYPYTHON}" in capsys.readouterr().out
    assert main(["info", str(model)]) == 2
    assert "encoder.json: not valid JSON" in capsys.readouterr().err
    assert main(["info", "default", "--tokenizer", str(TINYPYTHON)]) == 2
    assert "for OpenAI models" in capsys.readouterr().err
