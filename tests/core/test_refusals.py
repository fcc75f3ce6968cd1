"""Refused before any work: absurd model sizes (before allocating), outputs that cannot be
written (before pruning or training). One line naming the file and field, exit status 2."""

import json
import time

import pytest
import torch

import core.commands.circuits
from core.cli import main
from core.config import ConfigError, GPTConfig, check_fits_in_memory
from core.formats import save_checkpoint
from core.model import GPT
from tests.conftest import tiny_config


@pytest.fixture
def saved(tmp_path, tokenizer):
    save_checkpoint(tmp_path / "ckpt", GPT(tiny_config()), tokenizer, {"step": 1})
    return tmp_path / "ckpt"


def set_model_fields(folder, **fields):
    path = folder / "config.json"
    data = json.loads(path.read_text())
    data["model"].update(fields)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"n_layer": 100_000}, ["config.json", "'n_layer'", "100,000", "limit"]),
        ({"d_model": 1 << 20, "n_head": 8}, ["config.json", "'d_model'", "limit"]),
        ({"vocab_size": 1 << 30}, ["config.json", "'vocab_size'"]),
    ],
)
def test_absurd_sizes_are_refused_before_allocating(saved, capsys, fields, words):
    set_model_fields(saved, **fields)
    started = time.perf_counter()
    assert main(["info", str(saved)]) == 2
    assert time.perf_counter() - started < 5  # nothing was built
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err, err


def test_a_model_larger_than_memory_is_refused_with_its_size(saved, capsys):
    config = GPTConfig(n_layer=1000, d_model=16384, n_head=128)
    with pytest.raises(ConfigError, match=r"parameters .* more than this machine's 8.0 GiB"):
        check_fits_in_memory(config, "config.json", memory_bytes=8 << 30)
    check_fits_in_memory(GPTConfig(), "config.json", memory_bytes=8 << 30)  # the default fits
    for config in (tiny_config(), tiny_config(rms_norm=False, ln_bias=True, bias=True, sink=False)):
        assert config.n_params() == sum(p.numel() for p in GPT(config).parameters()), config


@pytest.mark.parametrize("out", ["a-file/c.json", "."])
def test_prune_refuses_an_unwritable_output_before_pruning(tmp_path, capsys, monkeypatch, out):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(core.commands.circuits, "prune_and_check", lambda *a, **k: pytest.fail("pruned"))
    monkeypatch.chdir(tmp_path)
    assert main(["prune", "default", "--task", "single_double_quote", "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and out.split("/")[0] in err


def test_train_refuses_an_unwritable_run_folder_before_reading_the_corpus(tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    started = time.perf_counter()
    assert main(["train", "--preset", "tiny", "--steps", "2", "--out", str(tmp_path / "a-file" / "run")]) == 2
    assert time.perf_counter() - started < 5
    assert "a-file is a file, not a folder" in capsys.readouterr().err


def test_running_out_of_device_memory_says_what_to_do(tmp_path, capsys, monkeypatch):
    import core.train

    real_step = core.train.Trainer.step

    def step(self, i):
        if i == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, i)

    monkeypatch.setattr(core.train.Trainer, "step", step)
    out = tmp_path / "run"
    from core.data.corpus import generate_programs

    corpus = tmp_path / "code"
    corpus.mkdir()
    for i, program in enumerate(generate_programs(30, seed=1)):
        (corpus / f"p{i}.py").write_text(program)
    argv = [
        "train",
        "--corpus",
        str(corpus),
        "--preset",
        "tiny",
        "--steps",
        "50",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "ran out of memory at step 4" in err and "--device cpu" in err and "Traceback" not in err
