"""Figures of the graph: SVG with real text and vector edges, PNG at the requested scale."""

import xml.etree.ElementTree as ET

import pytest
from PySide6.QtGui import QImage

from app.views.graph_export import PAGE, export_graph


def test_svg_has_the_title_legends_and_one_line_per_edge(window, tmp_path):
    s = window.session
    s.ablate("node", s.circuit.nodes[:1], "mean")
    path = tmp_path / "graph.svg"
    title, subtitle = window.files.figure_title()
    export_graph(window.graph, path, "svg", title, subtitle)
    root = ET.parse(path).getroot()  # well-formed XML
    text = " ".join(t.strip() for t in root.itertext())
    assert "single_double_quote circuit" in text and f"{s.circuit.n_nodes} nodes" in text
    for legend in (
        "positive weight",
        "negative weight",
        "ablated edge",
        "ablated node",
        "activation at the chosen token",
    ):
        assert legend in text
    drawn = sum(1 for el in root.iter() if el.tag.endswith(("polyline", "line", "path")))
    assert drawn >= len(s.graph.src)
    assert not [el for el in root.iter() if el.tag.endswith("image")]  # vector, not a raster


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_png_is_the_page_at_the_chosen_scale(window, tmp_path, scale):
    path = tmp_path / "graph.png"
    export_graph(window.graph, path, "png", "title", "subtitle", scale)
    image = QImage(str(path))
    assert (image.width(), image.height()) == (int(PAGE.width() * scale), int(PAGE.height() * scale))
    # Not blank: the edges' red and blue are there.
    colours = {
        image.pixelColor(x, y).name() for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 20


def test_a_failed_export_writes_nothing(window, tmp_path):
    with pytest.raises(OSError):
        export_graph(window.graph, tmp_path / "missing" / "graph.svg", "svg", "t")
    assert not list(tmp_path.iterdir())


def test_files_get_ordinary_permissions(window, tmp_path):
    import os

    path = tmp_path / "graph.svg"
    export_graph(window.graph, path, "svg", "t")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
