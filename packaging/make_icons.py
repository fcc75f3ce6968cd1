"""Draw the app icon (a small sparse circuit: three layers of nodes, a few signed edges) and
write packaging/icons/sparse-circuits.{png,ico}. Run once; the outputs are committed.

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen

HERE = Path(__file__).resolve().parent / "icons"
NODES = [(0.22, 0.30), (0.22, 0.70), (0.50, 0.22), (0.50, 0.50), (0.50, 0.78), (0.78, 0.40), (0.78, 0.66)]
EDGES = [
    (0, 3, "#d9534f"),
    (1, 3, "#3a78c2"),
    (1, 4, "#d9534f"),
    (3, 5, "#d9534f"),
    (2, 5, "#3a78c2"),
    (4, 6, "#d9534f"),
]
ACTIVE = {0, 3, 5}


def draw(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.Antialiasing)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor("#1f2733"))
    p.drawRoundedRect(QRectF(0, 0, size, size), size * 0.2, size * 0.2)
    for a, b, colour in EDGES:
        p.setPen(QPen(QColor(colour), max(1.5, size * 0.045), Qt.SolidLine, Qt.RoundCap))
        p.drawLine(QPointF(*[c * size for c in NODES[a]]), QPointF(*[c * size for c in NODES[b]]))
    radius = size * 0.075
    for i, (x, y) in enumerate(NODES):
        p.setPen(QPen(QColor("#e8edf2"), max(1.0, size * 0.02)))
        p.setBrush(QColor("#f0ad4e") if i in ACTIVE else QColor("#5b6776"))
        p.drawEllipse(QPointF(x * size, y * size), radius, radius)
    p.end()
    return image


if __name__ == "__main__":
    app = QGuiApplication([])
    HERE.mkdir(exist_ok=True)
    draw(256).save(str(HERE / "sparse-circuits.png"))
    draw(256).save(str(HERE / "sparse-circuits.ico"))
    print("wrote", *sorted(p.name for p in HERE.iterdir()))
