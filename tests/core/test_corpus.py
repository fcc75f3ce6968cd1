import ast
import shutil
import zipfile

import pytest

from core.data import corpus
from core.data.corpus import (
    CorpusError,
    embedded_corpus,
    generate_programs,
    load_corpus_dir,
    read_code_archive,
    resources_dir,
    stdlib_archive,
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
    [
        '"',
        "'",
        "]]",
        "])",
        ".add(",
        "= set()",
        "+=",
        '= ""',
        "= ''",
        "with open(",
        "while ",
        "elif ",
        "==",
        "[{",
        "def ",
        "class ",
    ],
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


def test_stdlib_archive_is_shipped_with_its_licence():
    archive = stdlib_archive()
    assert archive == resources_dir() / "corpus" / "python_stdlib.zip"
    assert "Python Software Foundation" in (archive.parent / "PSF-LICENSE").read_text(encoding="utf-8")


def test_stdlib_archive_loads_51_known_modules_in_name_order():
    modules = read_code_archive()
    names = [name for name, _text in modules]
    assert len(modules) == 51
    assert names == sorted(names)
    assert names[:3] == ["abc.py", "argparse.py", "ast.py"]
    assert names[-1] == "uuid.py"
    assert {"json.py", "json_decoder.py", "random.py", "enum.py", "tokenize.py"} <= set(names)
    texts = dict(modules)
    assert "class JSONDecoder" in texts["json_decoder.py"]
    assert sum(text.count("\n") for text in texts.values()) > 30_000


def test_no_importable_modules_in_resources():
    """The corpus is data: nothing under resources/ may shadow a real module."""
    stray = [p for p in resources_dir().rglob("*.py") if p.name != "__init__.py"]
    assert stray == []


def test_resources_dir_honours_pyinstaller_bundle(monkeypatch, tmp_path):
    import sys

    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"


def test_embedded_corpus_includes_real_files():
    documents = embedded_corpus(n_generated=20, seed=1)
    real = [text for _name, text in read_code_archive()]
    assert len(documents) == 20 + len(real)
    assert documents[:20] == generate_programs(20, seed=1)
    assert documents[20:] == real


def test_embedded_corpus_takes_another_archive(tmp_path):
    archive = _zip(tmp_path / "mine.zip", {"b.py": b"y = 2\r\n", "a.py": "x = 'é'\n".encode()})
    # Sorted by name, and decoded as Path.read_text did (universal newlines).
    assert read_code_archive(archive) == [("a.py", "x = 'é'\n"), ("b.py", "y = 2\n")]
    assert embedded_corpus(n_generated=2, seed=0, archive=archive)[2:] == ["x = 'é'\n", "y = 2\n"]


# -- refusing bad archives ------------------------------------------------------


def _zip(path, members, compression=zipfile.ZIP_LZMA):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():  # a name or a ZipInfo
            zf.writestr(name, data)
    return path


def test_missing_archive_is_refused(tmp_path):
    with pytest.raises(CorpusError, match="nowhere.zip"):
        read_code_archive(tmp_path / "nowhere.zip")


def test_archive_that_is_not_a_zip_is_refused(tmp_path):
    bad = tmp_path / "garbage.zip"
    bad.write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(CorpusError, match="garbage.zip"):
        read_code_archive(bad)


def test_truncated_copy_of_the_shipped_archive_is_refused(tmp_path):
    data = stdlib_archive().read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match="cut.zip"):
        read_code_archive(cut)


def test_damaged_member_data_is_refused(tmp_path):
    damaged = tmp_path / "damaged.zip"
    shutil.copyfile(stdlib_archive(), damaged)
    with zipfile.ZipFile(damaged) as zf:
        info = zf.infolist()[0]
    data = bytearray(damaged.read_bytes())
    # Inside the first member's compressed data, past its local header and LZMA properties.
    middle = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[middle] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match="damaged.zip"):
        read_code_archive(damaged)


def test_oversized_member_is_refused_before_decompressing(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "bomb.zip", {"ok.py": b"pass\n", "big.py": b"#" * (corpus.MAX_FILE_BYTES + 1)})
    assert archive.stat().st_size < 10_000  # compresses away to almost nothing

    def no_decompression(*args, **kwargs):
        raise AssertionError("decompressed a member of a refused archive")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_decompression)
    with pytest.raises(CorpusError, match="bomb.zip.*big.py"):
        read_code_archive(archive)


def test_archive_over_the_total_size_limit_is_refused(tmp_path, monkeypatch):
    archive = _zip(tmp_path / "many.zip", {f"m{i}.py": b"x = 1\n" * 100 for i in range(5)})
    monkeypatch.setattr(corpus, "MAX_ARCHIVE_BYTES", 2000)
    with pytest.raises(CorpusError, match="many.zip"):
        read_code_archive(archive)


@pytest.mark.parametrize(
    "name",
    ["../evil.py", "sub/inner.py", "/abs.py", "..\\evil.py", "LICENSE", "notes.txt", "folder/", ".hidden.py"],
)
def test_member_that_is_not_a_bare_py_name_is_refused(tmp_path, name):
    archive = _zip(tmp_path / "odd.zip", {"fine.py": b"pass\n", name: b"pass\n"})
    with pytest.raises(CorpusError, match="odd.zip"):
        read_code_archive(archive)


def test_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("link.py")
    link.external_attr = 0o120777 << 16  # a symbolic link, as zip -y stores one
    archive = _zip(tmp_path / "links.zip", {link: b"/etc/passwd"})
    with pytest.raises(CorpusError, match="links.zip.*link.py"):
        read_code_archive(archive)


def test_member_stored_twice_is_refused(tmp_path):
    archive = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("a.py", b"x = 1\n")
        zf.writestr("a.py", b"x = 2\n")
    with pytest.raises(CorpusError, match="twice.zip.*a.py"):
        read_code_archive(archive)


def test_member_that_is_not_utf8_is_refused(tmp_path):
    archive = _zip(tmp_path / "latin.zip", {"latin.py": "x = 'é'\n".encode("latin-1")})
    with pytest.raises(CorpusError, match="latin.zip.*latin.py"):
        read_code_archive(archive)


def test_empty_archive_is_refused(tmp_path):
    archive = _zip(tmp_path / "empty.zip", {})
    with pytest.raises(CorpusError, match="empty.zip"):
        read_code_archive(archive)


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
