import json

import pytest
import torch

from core import GPT, formats, load_checkpoint, load_model
from core.cli import main
from core.fileio import FileFormatError
from core.formats import save_checkpoint
from tests.conftest import FIXTURES, tiny_config


@pytest.fixture
def saved(tmp_path, tokenizer):
    torch.manual_seed(0)
    model = GPT(tiny_config(tied_unembed=True, enable_bigram_table=True, learnable_bigram_table=True)).eval()
    with torch.no_grad():
        model.bigram_table.normal_()
        model.final_logits_bias.normal_()
    save_checkpoint(tmp_path / "ckpt", model, tokenizer, {"step": 3})
    return model, tmp_path / "ckpt"


def test_round_trip_gives_the_same_function(saved):
    model, folder = saved
    loaded = load_model(folder)
    ids = torch.randint(0, 2048, (2, 9))
    torch.testing.assert_close(loaded(ids), model(ids))
    assert loaded.tokenizer is not None and loaded.config == model.config
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_rewrite_replaces_whole_folder(saved, tokenizer):
    model, folder = saved
    save_checkpoint(folder, model, None, {"step": 4})
    assert load_checkpoint(folder).meta["step"] == 4
    assert not (folder / "tokenizer.json").exists()
    assert [p.name for p in folder.parent.iterdir()] == ["ckpt"]  # no staging left behind


def test_a_checkpoint_replaced_while_it_is_read_is_read_again(saved, tokenizer, monkeypatch):
    """As when the app opens a run's checkpoint while the run (a torchrun's rank 0) saves the
    next: the save lands between reading the config and the weights. The open gets the files of
    one save (the step in its config matches the weights saved with it), never a mix of two."""
    model, folder = saved
    read_json = formats.read_json
    saves = []

    def read_then_training_saves(path, *args, **kwargs):
        data = read_json(path, *args, **kwargs)
        if not saves:
            with torch.no_grad():
                model.final_logits_bias.fill_(4.0)
            save_checkpoint(folder, model, tokenizer, {"step": 4})
            saves.append(4)
        return data

    monkeypatch.setattr(formats, "read_json", read_then_training_saves)
    ckpt = load_checkpoint(folder)
    assert saves == [4]
    assert ckpt.meta["step"] == 4 and float(ckpt.model.final_logits_bias[0]) == 4.0


def test_bad_files_are_named(saved, tmp_path):
    _, folder = saved
    with pytest.raises(FileFormatError, match="no such file"):
        load_model(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileFormatError, match="not a checkpoint"):
        load_model(empty)
    (folder / "model.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(FileFormatError, match="model.safetensors"):
        load_model(folder)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["d_model"] = "wide"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(FileFormatError, match="d_model"):
        load_model(folder)
    (folder / "config.json").write_text("[1, 2")
    with pytest.raises(FileFormatError, match="config.json"):
        load_model(folder)


def test_weights_that_do_not_match_config(saved, tokenizer):
    model, folder = saved
    bigger = GPT(
        tiny_config(d_mlp=128, tied_unembed=True, enable_bigram_table=True, learnable_bigram_table=True)
    )
    save_checkpoint(folder.parent / "other", bigger, None, {})
    (folder / "model.safetensors").write_bytes((folder.parent / "other" / "model.safetensors").read_bytes())
    with pytest.raises(FileFormatError, match="shape"):
        load_model(folder)


def test_openai_folder_with_pickled_code_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "beeg_config.json").write_text(
        json.dumps({"n_layer": 1, "d_model": 8, "n_head": 2, "vocab_size": 10, "block_size": 8})
    )
    (tmp_path / "final_model.pt").write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(FileFormatError, match="final_model.pt"):
        load_model(tmp_path)


@pytest.mark.parametrize("sparse", [False, True])
def test_an_openai_model_is_read_tensor_by_tensor_with_progress(sparse, capsys):
    folder = FIXTURES / "openai_format" / "layernorm_bias_tied"
    loading = formats.iter_load_checkpoint(folder, sparse=sparse)
    reports = []
    while True:
        try:
            reports.append(next(loading))
        except StopIteration as done:
            model = done.value.model
            break
    n = reports[-1][1]
    assert n > 10 and reports == [(i, n) for i in range(1, n + 1)]
    ids = torch.randint(0, model.config.vocab_size, (1, 8))
    torch.testing.assert_close(model(ids), load_model(folder, sparse=False)(ids), atol=1e-4, rtol=0)
    # The command line shows it (on a pipe: one line, not a bar's flood of carriage returns).
    assert main(["info", str(folder), "--json"]) == 0
    assert f"reading the weights: {n}/{n}" in capsys.readouterr().err
