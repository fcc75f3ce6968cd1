"""Inputs and outputs of a circuit on a tiny model whose weights are set by hand."""

import pytest
import torch

from core.circuit_io import circuit_io, is_io_name
from core.model import GPT
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def model():
    m = GPT(tiny_config(vocab_size=16)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        for norm in (m.transformer.h[0].ln_1, m.transformer.h[0].ln_2, m.transformer.ln_f):
            norm.weight.fill_(2.0)
        wte = m.transformer.wte.weight
        wte[3, 5] = 0.5  # token 3 writes channel 5 (an attention read feeding a key)
        wte[4, 6] = -0.25  # token 4 writes channel 6 (a read feeding only a query)
        wte[7, 9] = 1.0  # token 7 writes channel 9 (an MLP read)
        wte[8, 20] = 1.0  # token 8 writes channel 20, which nothing kept reads
        width = m.topology.heads_width
        c_attn = m.transformer.h[0].attn.c_attn.weight
        c_attn[width + 1, 5] = 1.0  # key 1 reads channel 5
        c_attn[0, 6] = 1.0  # query 0 reads channel 6
        m.lm_head.weight[10, 2] = 3.0  # channel 2 writes answer token 10
        m.lm_head.weight[11, 2] = -1.0
        m.lm_head.weight[11, 4] = 0.5  # channel 4 is not a kept write
    return m


NODES = [
    "0.attn.act_in.5",
    "0.attn.act_in.6",
    "0.attn.k.1",
    "0.attn.q.0",
    "0.mlp.act_in.9",
    "0.mlp.resid_delta.2",
]


def test_tokens_feed_the_reads_they_reach(model):
    # Positions: 0 1 2 3; token 3 at 0 and 2, token 4 at 1, token 7 at 3 (the current one).
    io = circuit_io(model, NODES, [3, 4, 3, 7], position=-1)
    inputs = {i.token: i.positions for i in io.inputs}
    # token 3 reaches the key's read from earlier positions; token 4 feeds a query read only
    # at its own (not current) position, so it feeds nothing; token 7 is current.
    assert inputs == {3: (0, 2), 7: (3,)}
    assert sorted(io.edges) == [("token.3", "0.attn.act_in.5", 1.0), ("token.7", "0.mlp.act_in.9", 2.0)]


def test_the_current_token_feeds_query_reads(model):
    io = circuit_io(model, NODES, [3, 4, 7], position=1)  # read at token 4
    assert {i.token: i.positions for i in io.inputs} == {3: (0,), 4: (1,)}
    assert ("token.4", "0.attn.act_in.6", -0.5) in io.edges


def test_writes_feed_the_answers_through_the_final_norm(model):
    io = circuit_io(model, NODES, [3], answers=[("correct", 10), ("incorrect", 11)])
    assert [o.name for o in io.outputs] == ["answer.correct", "answer.incorrect"]
    out = [e for e in io.edges if e[1].startswith("answer.")]
    assert sorted(out) == [
        ("0.mlp.resid_delta.2", "answer.correct", 6.0),
        ("0.mlp.resid_delta.2", "answer.incorrect", -2.0),
    ]
    assert all(is_io_name(n) for i in io.inputs + io.outputs for n in [i.name])
    assert not is_io_name("0.mlp.resid_delta.2")


def test_no_prompt_no_inputs_and_bad_role_named(model):
    io = circuit_io(model, NODES, [], answers=[("predicted", 10)])
    assert io.inputs == [] and [o.role for o in io.outputs] == ["predicted"]
    with pytest.raises(ValueError, match="answer role 'best'"):
        circuit_io(model, NODES, [3], answers=[("best", 10)])
