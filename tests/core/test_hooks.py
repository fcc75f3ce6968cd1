import pytest
import torch

from core import GPT
from core.topology import Node
from tests.conftest import tiny_config


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GPT(tiny_config(afrac=None)).eval()


def test_every_location_is_a_named_hook_point(model):
    expected = {
        f"{i}.{loc}"
        for i in range(2)
        for loc in (
            "resid_in",
            "attn.act_in",
            "attn.q",
            "attn.k",
            "attn.v",
            "attn.resid_delta",
            "resid_mid",
            "mlp.act_in",
            "mlp.post_act",
            "mlp.resid_delta",
        )
    } | {"final_resid"}
    assert set(model.hook_points) == expected
    ids = torch.randint(0, 2048, (2, 7))
    _, cache = model.run_with_cache(ids)
    assert set(cache) == expected
    assert cache["1.mlp.post_act"].shape == (2, 7, 64)


def test_residual_stream_is_consistent(model):
    _, cache = model.run_with_cache(torch.randint(0, 2048, (1, 9)))
    torch.testing.assert_close(cache["0.resid_mid"], cache["0.resid_in"] + cache["0.attn.resid_delta"])
    torch.testing.assert_close(cache["1.resid_in"], cache["0.resid_mid"] + cache["0.mlp.resid_delta"])


def test_zero_ablating_a_neuron_equals_cutting_its_output_weights(model):
    ids = torch.randint(0, 2048, (2, 8))

    def ablate(x, name):
        x = x.clone()
        x[..., 5] = 0
        return x

    hooked = model.run_with_hooks(ids, {"0.mlp.post_act": ablate})
    with torch.no_grad():
        model.transformer.h[0].mlp.c_proj.weight[:, 5] = 0
    torch.testing.assert_close(hooked, model(ids))


def test_patching_changes_downstream_only(model):
    ids = torch.randint(0, 2048, (1, 6))
    _, clean = model.run_with_cache(ids)

    def shift(x, name):
        return x + 1.0

    with model.hooks({"1.resid_in": shift}):
        _, patched = model.run_with_cache(ids)
    torch.testing.assert_close(patched["0.mlp.post_act"], clean["0.mlp.post_act"])
    assert not torch.allclose(patched["1.mlp.post_act"], clean["1.mlp.post_act"])


def test_hooks_are_removed_after_the_call(model):
    ids = torch.randint(0, 2048, (1, 6))
    before = model(ids)
    model.run_with_hooks(ids, {"0.attn.v": lambda x, n: torch.zeros_like(x)})
    torch.testing.assert_close(model(ids), before)


def test_bad_hooks_are_reported(model):
    ids = torch.randint(0, 2048, (1, 4))
    with pytest.raises(KeyError, match="0.mlp.nowhere"):
        model.run_with_hooks(ids, {"0.mlp.nowhere": lambda x, n: None})
    with pytest.raises(ValueError, match="shape"):
        model.run_with_hooks(ids, {"0.attn.q": lambda x, n: x[..., :3]})


def test_node_names_parse_and_format():
    node = Node.parse("0.mlp.post_act.2790")
    assert (node.layer, node.location, node.index, node.site) == (0, "mlp.post_act", 2790, "0.mlp.post_act")
    assert str(node) == "0.mlp.post_act.2790"
    for bad in ("0.mlp.post_act", "0.mlp.nowhere.3", "x.mlp.post_act.3", "0.mlp.post_act.-1", ""):
        with pytest.raises(ValueError, match="node name"):
            Node.parse(bad)


def test_hooks_are_per_thread(model):
    """A hook installed on one thread is invisible to a forward pass on another: background
    jobs share the model object with the GUI without copying it."""
    import threading

    ids = torch.randint(0, 2048, (1, 6))
    clean = model(ids)
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other_thread():
        inside.wait()
        seen["logits"] = model(ids)
        release.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with model.hooks({"0.attn.v": lambda x, n: torch.zeros_like(x)}):
        inside.set()
        release.wait(10)
        zeroed = model(ids)
    t.join()
    torch.testing.assert_close(seen["logits"], clean)
    assert not torch.allclose(zeroed, clean)
