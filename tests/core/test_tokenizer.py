import pytest

from core.data.tokenizer import Tokenizer, TokenizerError
from core.fileio import FileFormatError


def test_default_tokenizer_round_trips_code(tokenizer):
    assert tokenizer.vocab_size == 2048
    text = "def f(x, y=[1, [2]]):\n    return f\"{x}\" + 'é'\n"
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_default_tokenizer_has_task_tokens(tokenizer):
    for piece in ("]]", "')", '")'):
        assert tokenizer.token_id(piece) is not None, piece


def test_trained_tokenizer_saves_and_loads(tmp_path):
    tok = Tokenizer.train(["x = 'a'\n" * 50, "y = [[1]]\n" * 50], vocab_size=300)
    tok.save(tmp_path / "tokenizer.json")
    again = Tokenizer.load(tmp_path / "tokenizer.json")
    assert again.encode("x = [[1]]") == tok.encode("x = [[1]]")


def test_bad_tokenizer_files_name_the_file(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(TokenizerError, match="tokenizer.json"):
        Tokenizer.load(bad)
    with pytest.raises(FileFormatError, match="missing.json"):
        Tokenizer.load(tmp_path / "missing.json")
