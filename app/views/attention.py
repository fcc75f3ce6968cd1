"""The Attention view: what one head attends to on the prompt. Side by side, the pattern from
the circuit's kept q/k channels alone and from the full head (rows: query tokens, columns:
key tokens, the sink first where the model has one); beside them, one q channel times one k
channel at every query and key. The chosen token's row is outlined; clicking a row chooses it.

The numbers come from app/head_attention.py (core/attention_view.py); this view draws them.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

from ..head_attention import HeadRequest
from .text import visible

PROBABILITY_MAP = "viridis"
QK_MAP = "CET-D1"  # blue (negative) - white - red (positive)
TICK_CHARS = 9  # a token label's most characters
TICK_POINTS = 7.5


def token_label(token: str, i: int) -> str:
    text = visible(token)
    return (text if len(text) <= TICK_CHARS else text[: TICK_CHARS - 1] + "…") or "∅"


def tick_font() -> QFont:
    font = QFont()
    font.setPointSizeF(TICK_POINTS)
    return font


def spaced(ticks, pixels_per_unit: float, size, first: int = -1) -> list[tuple[int, str]]:
    """The ticks [(position, text)] whose labels, `size(text)` pixels long along the axis and
    centred on their position, do not overlap; the one at `first` is placed before the rest."""
    placed: list[tuple[float, float]] = []
    kept = []
    for pos, text in sorted(ticks, key=lambda t: (t[0] != first, t[0])):
        centre, half = pos * pixels_per_unit, size(text) / 2
        if all(hi <= centre - half or lo >= centre + half for lo, hi in placed):
            placed.append((centre - half, centre + half))
            kept.append((pos, text))
    return sorted(kept)


class HeatMap:
    """One [query x key] image in a plot: token tick labels, the query row outlined."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        plot.invertY(True)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.getViewBox().setBackgroundColor(pg.mkColor(160, 160, 160, 90))  # later keys: masked
        self.font = tick_font()
        self.metrics = QFontMetrics(self.font)
        for side in ("left", "bottom"):
            plot.getAxis(side).setStyle(tickLength=0, tickFont=self.font, hideOverlappingLabels=False)
        plot.setLabel("left", "query")
        plot.setLabel("bottom", "key")
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.row = pg.PlotCurveItem(pen=pg.mkPen(255, 140, 0, width=2))
        plot.addItem(self.row)
        self.values: np.ndarray | None = None  # what is drawn, [query, column]
        self.first_key = 0  # the column of key 0 (1 with the sink drawn first)
        self.labels: list[tuple[int, str]] = []
        self.chosen = -1  # the outlined query row, whose labels are always shown
        plot.getViewBox().sigResized.connect(self._place_labels)

    def show(self, values, tokens: list[str], sink: bool, levels) -> None:
        self.values, self.first_key = values, int(sink)
        n = len(tokens)
        self.image.setImage(values, levels=levels, autoLevels=False)
        self.image.setRect(QRectF(-0.5 - self.first_key, -0.5, values.shape[1], n))
        self.labels = [(i, token_label(t, i)) for i, t in enumerate(tokens)]
        self.plot.setRange(xRange=(-0.5 - self.first_key, n - 0.5), yRange=(-0.5, n - 0.5), padding=0)
        self._place_labels()

    def _place_labels(self) -> None:
        """As many token labels as fit without overlapping at the plot's size (the chosen
        token's first); hovering a cell names its tokens either way."""
        if self.values is None:
            return
        box = self.plot.getViewBox()
        n = len(self.values)
        keys = ([(-1, "sink")] if self.first_key else []) + self.labels
        width = lambda text: self.metrics.horizontalAdvance(text) + 6  # noqa: E731
        height = lambda _text: self.metrics.height()  # noqa: E731
        self.plot.getAxis("bottom").setTicks(
            [spaced(keys, box.width() / (n + self.first_key), width, self.chosen)]
        )
        self.plot.getAxis("left").setTicks([spaced(self.labels, box.height() / n, height, self.chosen)])

    def clear(self) -> None:
        self.values, self.labels = None, []
        self.image.clear()
        self.row.setData([], [])
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setTicks([[]])

    def outline(self, row: int) -> None:
        self.chosen = row
        self._place_labels()
        if self.values is None or not 0 <= row < len(self.values):
            self.row.setData([], [])
            return
        x0, x1 = -0.5 - self.first_key, len(self.values) - 0.5
        self.row.setData([x0, x1, x1, x0, x0], [row - 0.5, row - 0.5, row + 0.5, row + 0.5, row - 0.5])

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        """(query, key) under a scene position; key -1 is the sink."""
        if self.values is None or not self.plot.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.getViewBox().mapSceneToView(scene_pos)
        q, k = int(round(p.y())), int(round(p.x()))
        if 0 <= q < len(self.values) and -self.first_key <= k < len(self.values):
            return q, k
        return None

    def value(self, q: int, k: int) -> float:
        return float(self.values[q, k + self.first_key])


def _with_sink(pattern: np.ndarray, sink: np.ndarray | None) -> np.ndarray:
    """The pattern with later keys NaN (drawn as masked) and the sink's share as column 0."""
    shown = pattern.astype(np.float64).copy()
    shown[np.triu_indices(len(shown), 1)] = np.nan
    return shown if sink is None else np.concatenate([sink[:, None], shown], axis=1)


class AttentionPanel(QWidget):
    def __init__(self, session, attention, parent=None):
        super().__init__(parent)
        self.session, self.attention = session, attention
        self.head_box = QComboBox()
        self.head_box.setToolTip("The head shown; the circuit's heads (kept q/k channels) come first")
        self.head_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.others_box = QComboBox()
        self.others_box.addItem("others at their mean", "mean")
        self.others_box.addItem("others zero", "zero")
        self.others_box.setToolTip(
            "In the kept-channel pattern, what the head's q/k channels outside the circuit are: "
            "their mean activation (mean ablation, as the paper's circuits prune), or zero (the "
            "scores summed over the kept channels alone)"
        )
        self.q_box, self.k_box = QComboBox(), QComboBox()
        self.q_box.setToolTip("The q channel of the q·k map (the circuit's kept ones of this head)")
        self.k_box.setToolTip("The k channel of the q·k map (the circuit's kept ones of this head)")
        controls = QHBoxLayout()
        for label, box in (("Head", self.head_box), ("Kept pattern:", self.others_box)):
            controls.addWidget(QLabel(label))
            controls.addWidget(box)
        controls.addSpacing(16)
        controls.addWidget(QLabel("q·k map: q"))
        controls.addWidget(self.q_box)
        controls.addWidget(QLabel("k"))
        controls.addWidget(self.k_box)
        controls.addStretch()
        self.canvas = pg.GraphicsLayoutWidget()
        self.kept = HeatMap(self.canvas.addPlot(0, 0))
        self.full = HeatMap(self.canvas.addPlot(0, 1))
        probability = pg.ColorBarItem(
            values=(0, 1), colorMap=pg.colormap.get(PROBABILITY_MAP), interactive=False, width=14,
            label="attention", colorMapMenu=False,
        )  # fmt: skip
        probability.setImageItem([self.kept.image, self.full.image])
        self.canvas.addItem(probability, 0, 2)
        self.qk = HeatMap(self.canvas.addPlot(0, 3))
        self.qk_bar = pg.ColorBarItem(
            values=(-1, 1), colorMap=pg.colormap.get(QK_MAP), interactive=False, width=14,
            label="q·k / √d_head", colorMapMenu=False,
        )  # fmt: skip
        self.qk_bar.setImageItem(self.qk.image)
        self.canvas.addItem(self.qk_bar, 0, 4)
        self.maps = (self.kept, self.full, self.qk)
        for column, m in zip((0, 1, 3), self.maps):
            self.canvas.ci.layout.setColumnStretchFactor(column, 1)
            m.plot.setPreferredWidth(1)  # the stretch shares out the width equally
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.RichText)
        self.caption.setWordWrap(True)
        self.caption.setToolTip(
            "Rows are the query tokens, columns the keys each attends to; a row is that query's "
            "softmax, and with a sink the first column is the share it puts on no token. The kept "
            "pattern recomputes the scores from the circuit's kept q/k channels of this head, the "
            "head's other q/k channels at their mean (as mean ablation has them) or zero. The q·k "
            "map is one channel pair's term of the scores, q_i at the query times k_j at the key "
            "over √d_head: a row's softmax sees only how it varies across keys."
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        self._stale = True
        self._head: tuple[int, int] | None = None

        s = session
        s.model_changed.connect(self._on_model)
        s.circuit_changed.connect(self._on_circuit)
        for signal in (s.prompt_changed, s.interventions_changed):
            signal.connect(self.refresh)
        s.position_changed.connect(self._outline)
        s.selection_changed.connect(self._on_selection)
        attention.ready.connect(self._draw)
        self.head_box.activated.connect(lambda i: self.show_head(self.head_box.itemData(i)))
        for box in (self.others_box, self.q_box, self.k_box):
            box.activated.connect(lambda _i: self.refresh())
        self.canvas.scene().sigMouseMoved.connect(self._hover)
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        self._on_model()

    # ---- choosing the head -----------------------------------------------------------------

    def show_head(self, head: tuple[int, int] | None) -> None:
        """Show this (layer, head); None: the circuit's first head, else the model's first."""
        a = self.attention
        if head is None:
            head = next(iter(a.circuit_heads() or a.heads()), None)
        self._head = tuple(head) if head is not None else None
        self._fill_heads()
        self._fill_channels()
        self.refresh()

    def show_node_head(self, node: str) -> None:
        """The head of an attn.q / attn.k / attn.v node."""
        head = self.attention.head_of(node)
        if head is not None:
            self.show_head(head)

    def _fill_heads(self) -> None:
        a = self.attention
        circuit = a.circuit_heads()
        self.head_box.blockSignals(True)
        self.head_box.clear()
        for layer, head in circuit + [h for h in a.heads() if h not in circuit]:
            q, k = a.kept(layer, head)
            kept = f"  — circuit: {len(q)} q, {len(k)} k" if (layer, head) in circuit else ""
            self.head_box.addItem(f"layer {layer} head {head}{kept}", (layer, head))
            if (layer, head) == self._head:
                self.head_box.setCurrentIndex(self.head_box.count() - 1)
        self.head_box.blockSignals(False)

    def _fill_channels(self) -> None:
        """The q and k combos: the circuit's kept channels of the head, or all of its channels
        when it keeps none; the same dimension on both sides when there is one."""
        self.q_box.clear()
        self.k_box.clear()
        if self._head is None:
            return
        layer, head = self._head
        d = self.session.bench.model.config.d_head
        all_channels = list(range(head * d, (head + 1) * d))
        kept_q, kept_k = self.attention.kept(layer, head)
        for box, kept, site in ((self.q_box, kept_q, "q"), (self.k_box, kept_k, "k")):
            for c in kept or all_channels:
                box.addItem(f"{layer}.attn.{site}.{c}", c)
        shared = sorted(set(kept_q or all_channels) & set(kept_k or all_channels))
        if shared:
            self.q_box.setCurrentIndex(self.q_box.findData(shared[0]))
            self.k_box.setCurrentIndex(self.k_box.findData(shared[0]))

    def _on_model(self) -> None:
        self._head = None
        for m in self.maps:
            m.clear()
        if self.session.bench is not None:
            self.show_head(None)

    def _on_circuit(self) -> None:
        if self.session.bench is None:
            return
        self.others_box.setCurrentIndex(self.others_box.findData(self.attention.default_others()))
        circuit = self.attention.circuit_heads()
        self.show_head(self._head if self._head is not None and not circuit else None)

    def _on_selection(self) -> None:
        sel = self.session.selection
        if sel and self.attention.head_of(sel[-1]) not in (None, self._head):
            self.show_node_head(sel[-1])

    # ---- computing and drawing -------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute now if the view is shown, else when it is next shown."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        if self._head is None:
            return
        q, k = self.q_box.currentData(), self.k_box.currentData()
        self.attention.compute(
            HeadRequest(*self._head, self.others_box.currentData(), None if q is None else (q, k))
        )
        if self.attention.computing:
            self.caption.setText("<i>computing the head's attention…</i>")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _draw(self) -> None:
        p, a = self.attention.pattern, self.attention
        if p is None:
            for m in self.maps:
                m.clear()
            self.caption.setText(f"<i>{html.escape(a.error)}</i>")
            return
        tokens = self.session.tokens()[-len(p.full) :]
        sink = p.sink_full is not None
        self.kept.show(_with_sink(p.kept, p.sink_kept), tokens, sink, (0, 1))
        self.full.show(_with_sink(p.full, p.sink_full), tokens, sink, (0, 1))
        d = self.session.bench.model.config.d_head
        layer, head = p.layer, p.head
        others = "others at mean" if p.others == "mean" else "others zero"
        self.kept.plot.setTitle(f"kept q/k channels ({others})", size="9pt")
        self.full.plot.setTitle(f"full head {layer}.{head}", size="9pt")
        if p.qk is not None:
            top = float(np.nanmax(np.abs(p.qk))) or 1.0
            self.qk_bar.setLevels((-top, top))
            self.qk.show(p.qk, tokens, False, (-top, top))
            i, j = p.qk_channels
            self.qk.plot.setTitle(f"q·k: q.{i} × k.{j}", size="9pt")
        else:
            self.qk.clear()
        self._outline()
        self.caption.setText(self._caption(p, d))

    def _caption(self, p, d: int) -> str:
        kept = lambda cs: ", ".join(str(c) for c in cs) or "none"  # noqa: E731
        sink = ", the sink first" if p.sink_full is not None else ""
        parts = [
            f"Each row: a query's softmax over the keys{sink}. Grey: later tokens, unseen. "
            f"Outlined: the chosen token (click a row). Kept: q {kept(p.kept_q)} · k {kept(p.kept_k)}."
        ]
        if p.qk_channels is not None and p.qk_channels[0] % d != p.qk_channels[1] % d:
            parts.append("<b>This q and k are different dimensions of the head: no term of its scores.</b>")
        n = len(self.session.interventions)
        if n:
            parts.append(f"Under {n} intervention{'s' if n > 1 else ''}.")
        return "<small>" + " ".join(parts) + "</small>"

    def _outline(self) -> None:
        p = self.attention.pattern
        row = self.session.position - (len(self.session.ids) - len(p.full)) if p is not None else -1
        for m in self.maps:
            m.outline(row)

    # ---- the mouse -------------------------------------------------------------------------

    def _hover(self, scene_pos) -> None:
        tokens = self.session.tokens()
        for m in self.maps:
            cell = m.cell_at(scene_pos)
            if cell is None:
                continue
            q, k = cell
            value = m.value(q, k)
            if np.isnan(value):
                QToolTip.hideText()
                return
            key = "the sink" if k < 0 else f"{visible(tokens[k])!r} ({k})"
            what = "q·k" if m is self.qk else "attention"
            view = self.canvas.mapToGlobal(self.canvas.mapFromScene(scene_pos))
            QToolTip.showText(view, f"query {visible(tokens[q])!r} ({q}) → key {key}: {what} {value:.3f}")
            return
        QToolTip.hideText()

    def _clicked(self, event) -> None:
        for m in self.maps:
            cell = m.cell_at(event.scenePos())
            if cell is not None:
                self.session.set_position(cell[0])
                return
