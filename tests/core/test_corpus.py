import ast

import pytest

from core.data.corpus import (
    CorpusError,
    embedded_corpus,
    generate_programs,
    load_corpus_dir,
    real_code_files,
    resources_dir,
)


@pytest.fixture(scope="module")
def sample():
    return generate_programs(500, seed=7)


def test_same_seed_gives_same_programs():
    assert generate_programs(50, seed=3) == generate_programs(50, seed=3)


def test_different_seeds_give_different_programs():
    assert generate_programs(50, seed=3) != generate_programs(50, seed=4)


def test_generation_does_not_touch_global_random_state():
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    generate_programs(10, seed=0)
    assert random.random() == expected


def test_every_program_parses(sample):
    for program in sample:
        ast.parse(program)


def test_programs_have_5_to_40_lines_and_end_with_newline(sample):
    for program in sample:
        assert program.endswith("\n")
        assert 5 <= program.count("\n") <= 40


@pytest.mark.parametrize(
    "idiom",
    ['"', "'", "]]", "])", ".add(", "= set()", "+=", '= ""', "= ''",
     "with open(", "while ", "elif ", "==", "[{", "def ", "class "],
)
def test_idiom_appears_in_sample(sample, idiom):
    assert sum(idiom in program for program in sample) >= 10


def test_both_quote_kinds_are_roughly_balanced(sample):
    text = "".join(sample)
    doubles, singles = text.count('"'), text.count("'")
    assert 0.5 < doubles / singles < 2.0


def test_keyword_call_ends_with_kwarg_then_paren(sample):
    import re

    pattern = re.compile(r"\w+\(.*\w=[^,()]+\)$", re.MULTILINE)
    assert sum(bool(pattern.search(p)) for p in sample) >= 50


def test_real_code_files_are_shipped():
    files = real_code_files()
    assert len(files) >= 10
    assert all(f.suffix == ".py" and f.parent == resources_dir() / "corpus" / "python" for f in files)
    assert (resources_dir() / "corpus" / "python" / "LICENSE").is_file()


def test_resources_dir_honours_pyinstaller_bundle(monkeypatch, tmp_path):
    import sys

    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"


def test_embedded_corpus_includes_real_files():
    documents = embedded_corpus(n_generated=20, seed=1)
    real = real_code_files()
    assert len(documents) == 20 + len(real)
    assert documents[:20] == generate_programs(20, seed=1)
    assert documents[20] == real[0].read_text(encoding="utf-8")


def test_load_corpus_dir_reads_recursively_and_skips_bad_files(tmp_path):
    (tmp_path / "b.py").write_text("y = 2\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.py").write_text("x = 'é'\n", encoding="utf-8")
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    (tmp_path / "empty.py").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")

    documents, n_skipped = load_corpus_dir(tmp_path)

    assert documents == ["y = 2\n", "x = 'é'\n"]  # sorted paths: b.py < sub/a.py
    assert n_skipped == 2


def test_load_corpus_dir_skips_oversized_file(tmp_path):
    (tmp_path / "big.py").write_text("#" * (2 * 1024 * 1024 + 1), encoding="utf-8")
    (tmp_path / "ok.py").write_text("pass\n", encoding="utf-8")
    assert load_corpus_dir(str(tmp_path)) == (["pass\n"], 1)


def test_load_corpus_dir_missing_folder(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError, match="nope"):
        load_corpus_dir(missing)


def test_load_corpus_dir_file_instead_of_folder(tmp_path):
    file = tmp_path / "single.py"
    file.write_text("pass\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="single.py"):
        load_corpus_dir(file)


def test_load_corpus_dir_without_python_files(tmp_path):
    (tmp_path / "readme.md").write_text("hi", encoding="utf-8")
    with pytest.raises(CorpusError, match=str(tmp_path.name)):
        load_corpus_dir(tmp_path)


def test_load_corpus_dir_with_only_unusable_files_reports_skips(tmp_path):
    (tmp_path / "empty.py").write_bytes(b"")
    with pytest.raises(CorpusError, match="1 file"):
        load_corpus_dir(tmp_path)


def test_corpus_error_is_a_value_error():
    assert issubclass(CorpusError, ValueError)
