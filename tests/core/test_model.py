import json

import pytest
import torch

from core import GPT, GPTConfig, load_model
from core.config import ConfigError
from core.formats import model_state
from tests.conftest import FIXTURES, tiny_config

FIXTURE_NAMES = ["rms_bigram_afrac", "layernorm_bias_tied"]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_openai_fixture_reproduced(name):
    folder = FIXTURES / "openai_format" / name
    model = load_model(folder)
    expected = torch.load(folder / "expected.pt", weights_only=True)
    logits, cache = model.run_with_cache(expected["input_ids"])
    torch.testing.assert_close(logits, expected["logits"], atol=1e-4, rtol=0)
    assert set(expected["activations"]) <= set(cache)
    for hook, value in expected["activations"].items():
        torch.testing.assert_close(cache[hook], value, atol=1e-4, rtol=0, msg=hook)


def every_option_configs():
    yield tiny_config(
        afrac=0.5,
        afrac_loctypes="attn_in,attn_out,mlp_in,mlp_out,attn_q,attn_k,"
        "attn_v,mlp_neuron,resid_post_attn,resid_post_mlp",
    )
    yield tiny_config(
        rms_norm=False,
        ln_bias=True,
        bias=True,
        tied_unembed=True,
        sink=False,
        activation_type="relu",
        residual_activation_type="relu",
        afrac=None,
    )
    yield tiny_config(
        d_pos_emb=8, sinusoidal_cat_pos_emb=True, enable_bigram_table=True, learnable_bigram_table=True
    )
    yield tiny_config(d_pos_emb=8, dropout_cat_pos_emb=True, d_head=12, n_head=3)
    yield tiny_config(learned_pos_emb=False, rms_norm=False, ln_bias=False)


@pytest.mark.parametrize("config", list(every_option_configs()), ids=lambda c: "cfg")
def test_every_option_builds_and_runs(config):
    torch.manual_seed(0)
    model = GPT(config).eval()
    ids = torch.randint(0, config.vocab_size, (2, 12))
    logits, cache = model.run_with_cache(ids)
    assert logits.shape == (2, 12, config.vocab_size)
    assert torch.isfinite(logits).all()
    for name, act in cache.items():
        assert act.shape[-1] == model.location_width(name), name
    if config.afrac is not None and "mlp_neuron" in config.sparse_locations:
        k = int(config.afrac * config.d_mlp)
        assert ((cache["0.mlp.post_act"] != 0).sum(-1) <= k).all()


def test_cat_pos_emb_widens_reads():
    model = GPT(tiny_config(d_pos_emb=8))
    _, cache = model.run_with_cache(torch.zeros(1, 5, dtype=torch.long))
    assert cache["0.attn.act_in"].shape[-1] == 32 + 8
    assert cache["0.mlp.act_in"].shape[-1] == 32 + 8
    assert "wpe" in model.transformer and model.transformer.wpe.weight.shape == (32, 8)


def test_sinusoidal_positions_are_frozen():
    model = GPT(tiny_config(d_pos_emb=8, sinusoidal_cat_pos_emb=True))
    assert not model.transformer.wpe.weight.requires_grad
    assert model.transformer.wpe.weight[0, 4] == pytest.approx(1.0)  # cos(0)


def test_openai_import_of_every_renamed_field(tmp_path):
    """A model saved the way circuit_sparsity saves one (sink under attn_imp, n_mlp, no
    final_logits_bias, causal-mask buffers) loads to the same function."""
    torch.manual_seed(2)
    config = tiny_config(
        sink=True,
        d_pos_emb=8,
        activation_type="relu",
        afrac=0.5,
        afrac_loctypes="attn_in,mlp_neuron",
        tied_unembed=False,
    )
    model = GPT(config).eval()
    state = model_state(model)
    state.pop("final_logits_bias")
    renamed = {}
    for key, value in state.items():
        renamed[key.replace(".attn.sink_logit", ".attn.attn_imp.sink_logit")] = value
    for i in range(config.n_layer):
        renamed[f"transformer.h.{i}.attn.bias"] = torch.ones(1, 1, 32, 32).tril()
    torch.save(renamed, tmp_path / "final_model.pt")
    beeg = {
        k: v for k, v in config.to_dict().items() if k not in ("learned_pos_emb", "d_mlp", "tokenizer_name")
    }
    beeg.update(n_mlp=config.d_mlp, bigram_table_rank=None, flash=True)
    (tmp_path / "beeg_config.json").write_text(json.dumps(beeg))
    loaded = load_model(tmp_path)
    ids = torch.randint(0, config.vocab_size, (2, 10))
    torch.testing.assert_close(loaded(ids), model(ids))
    assert loaded.config.sink and loaded.config.d_mlp == 64


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="d_head"):
        GPTConfig(d_model=30, n_head=4)
    with pytest.raises(ConfigError, match="afrac_loctypes"):
        GPTConfig(afrac_loctypes="attn_in,nowhere")
    with pytest.raises(ConfigError, match="activation_type"):
        GPTConfig(activation_type="tanh")


def test_sequence_longer_than_block_is_an_error():
    model = GPT(tiny_config())
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 33, dtype=torch.long))
