import json

from app.entry import main


def test_bench_gui_reports_the_three_latencies(default_model, capsys, qapp):
    assert main(["bench", "gui", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {
        "intervention_latency_ms",
        "hover_highlight_ms",
        "full_redraw_ms",
        "redraw_gui_blocked_ms",
    }
    # Every weight drawn, the edges are painted after the GUI thread is free again.
    assert result["redraw_every_weight_gui_blocked_ms"] < result["full_redraw_every_weight_ms"]
    assert result["drawn_edges_zoomed_out"] < result["graph_edges"] / 10  # bundled
    assert result["graph_nodes"] >= 19_900 and result["graph_edges"] == 200_000
    assert all(result[k] > 0 for k in ("intervention_latency_ms", "hover_highlight_ms"))


def test_synthetic_graph_is_shaped_like_a_model():
    from app.bench import synthetic_graph

    g = synthetic_graph(n_nodes=640, n_edges=1000, n_layer=2)
    layers = [int(n.split(".")[0]) for n in g.nodes]
    assert all(layers[d] - layers[s] in (0, 1) for s, d in zip(g.src, g.dst))
