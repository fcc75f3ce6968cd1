"""The vectorised hairline rasteriser: the pixels of a line, layers over layers, clipping, and
the same pixels as Qt's non-antialiased cosmetic pen."""

import numpy as np
from PySide6.QtCore import QLineF
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from app.views import hairlines


def draw(layers, w=20, h=10, shares=1, to_pixels=(0.0, 0.0, 1.0, 1.0)):
    layers = [np.asarray(s, dtype=float).reshape(-1, 4) for s in layers]
    parts = [hairlines.draw([s[i::shares] for s in layers], w, h, to_pixels) for i in range(shares)]
    return hairlines.combine(parts, w, h)


def test_a_line_is_one_pixel_per_row_or_column():
    image = draw([[2.5, 1.5, 2.5, 7.5]])  # vertical: column 2, rows 1 to 7
    assert np.array_equal(np.argwhere(image), [[y, 2] for y in range(1, 8)])
    image = draw([[3.5, 4.5, 12.5, 4.5]])  # horizontal
    assert np.array_equal(np.argwhere(image), [[4, x] for x in range(3, 13)])
    image = draw([[1.5, 1.5, 6.5, 6.5]])  # diagonal
    assert np.array_equal(np.argwhere(image), [[i, i] for i in range(1, 7)])
    assert np.all(image[image > 0] == 1)


def test_later_layers_are_on_top_whatever_the_share():
    layers = [[[0.5, 5.5, 19.5, 5.5]], [[10.5, 0.5, 10.5, 9.5]], [[0.5, 0.5, 0.5, 0.5]]]
    for shares in (1, 2):
        image = draw(layers, shares=shares)
        assert image[5, 3] == 1 and image[5, 10] == 2 and image[0, 0] == 3
        assert image[2, 10] == 2


def test_lines_are_clipped_to_the_image():
    assert not draw([[-5.0, -5.0, -1.0, 30.0], [25.0, 2.5, 25.0, 8.5], [-3.0, 12.0, 30.0, 15.0]]).any()
    image = draw([[-10.5, 4.5, 30.5, 4.5], [5.5, -20.0, 5.5, 20.0]])
    assert image[4].all() and image[:, 5].all()
    assert (image > 0).sum() == 20 + 10 - 1
    # Scaled from graph units: x * 2, y * 2 from (1, 1).
    image = draw([[2.0, 2.0, 2.0, 4.0]], to_pixels=(1.0, 1.0, 2.0, 2.0))
    assert np.array_equal(np.argwhere(image), [[y, 2] for y in range(2, 7)])


def test_lines_of_many_lengths_in_one_chunk():
    rng = np.random.default_rng(0)
    starts = rng.uniform(0, 10, (500, 2))
    segments = np.hstack([starts, starts + rng.uniform(0, 90, (500, 1)) * [[1, 0.37]]])
    alone = [draw([s], 100, 50) for s in segments[:40]]
    together = draw([segments[:40]], 100, 50)
    assert np.array_equal(together, np.maximum.reduce(alone))


def qt_pixels(segments, w, h) -> np.ndarray:
    image = QImage(w, h, QImage.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    pen = QPen(QColor(255, 0, 0))
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.drawLines([QLineF(*s) for s in segments])
    painter.end()
    return np.frombuffer(image.constBits(), np.uint32).reshape(h, w) != 0


def test_the_same_pixels_as_qt(qapp):
    rng = np.random.default_rng(1)
    segments = rng.uniform(-20, 140, (400, 4))
    ours, qt = draw([segments], 120, 100) > 0, qt_pixels(segments, 120, 100)
    assert (ours != qt).sum() < 0.02 * qt.sum()  # Qt's fixed point rounds a few differently
