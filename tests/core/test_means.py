"""Mean activations are taken over the right corpus: an OpenAI model's over real Python in its
own tokenization, and a cache taken over another corpus is not trusted."""

from types import SimpleNamespace

import torch

from core.data.corpus import read_code_archive
from core.data.stream import TokenStream
from core.means import MEANS_FILE, load_or_compute_means
from core.model import GPT
from core.workbench import OPENAI_MEANS_CORPUS, Workbench
from tests.conftest import tiny_config


def test_a_cache_over_another_corpus_is_computed_again(tmp_path, small_stream):
    model = GPT(tiny_config()).eval()
    streams = []

    def stream():
        streams.append(1)
        return small_stream

    first = load_or_compute_means(model, tmp_path, stream, "corpus A")
    assert (tmp_path / MEANS_FILE).is_file() and len(streams) == 1
    load_or_compute_means(model, tmp_path, stream, "corpus A")
    assert len(streams) == 1  # the cache was taken over corpus A
    again = load_or_compute_means(model, tmp_path, stream, "corpus B")
    assert len(streams) == 2  # not over B: computed again
    load_or_compute_means(model, tmp_path, stream)  # no corpus asked for: any cache will do
    assert len(streams) == 2
    torch.testing.assert_close(first["0.mlp.post_act"], again["0.mlp.post_act"])


def test_an_openai_model_reads_the_standard_library_in_its_own_tokens(tokenizer):
    bench = Workbench.__new__(Workbench)
    bench.checkpoint = SimpleNamespace(meta={"source_format": "openai-circuit-sparsity"}, path=None)
    bench.tokenizer = tokenizer
    stream = bench.stream()
    stdlib = TokenStream.from_documents([text for _, text in read_code_archive()], tokenizer)
    assert len(stream) == len(stdlib)  # the real modules only: no generated programs
    assert bench.corpus_description == OPENAI_MEANS_CORPUS
