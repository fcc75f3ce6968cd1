"""The node inspector: what one node does on this prompt, over the corpus, and on the current
task's two classes."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QScrollArea, QSizePolicy, QTabWidget, QVBoxLayout, QWidget

from core.attention_view import HEAD_LOCATIONS
from core.node_stats import examples_by_bin, node_values, top_tokens_for_channel
from core.topology import Node

from .annotation_editor import AnnotationEditor
from .by_class import ByClassView
from .text import visible


def shade(value: float, scale: float, paper=(255, 255, 255)) -> str:
    """A background colour for an activation: red positive, blue negative, fading into
    `paper` (the text background: white, or dark in a dark scheme) at zero."""
    t = 0.0 if scale == 0 else max(-1.0, min(1.0, value / scale))
    end = (214, 96, 77) if t > 0 else (67, 147, 195)
    rgb = [int(p + abs(t) * (e - p)) for p, e in zip(paper, end)]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def token_html(
    tokens, values, focus=None, scale=None, paper=(255, 255, 255), ink="#000", spaced=False
) -> str:
    """Tokens shaded by value. A zero-width space between tokens lets a long line wrap there
    (a line of tokens has no spaces of its own: they are shown as ·); `spaced`, a space (token
    ids, `#12 #7`, which would otherwise run together)."""
    scale = scale if scale is not None else (float(np.abs(values).max()) if len(values) else 1.0)
    parts = []
    for i, (tok, v) in enumerate(zip(tokens, values)):
        border = f"border-bottom:2px solid {ink};" if i == focus else ""
        parts.append(
            f'<span style="background:{shade(v, scale, paper)};color:{ink};{border}" '
            f'title="{v:+.3f}">{html.escape(visible(tok))}</span>'
        )
    joiner = " " if spaced else "&#8203;"
    return '<span style="font-family:monospace">' + joiner.join(parts) + "</span>"


class NodeInspector(QScrollArea):
    node_link = Signal(str)
    attention_requested = Signal(str)  # an attn.q / attn.k / attn.v node: show its head

    def _colours(self) -> tuple[tuple[int, int, int], str]:
        """(paper, ink) of the current colour scheme, for shaded tokens."""
        base = self.palette().color(QPalette.Base)
        return (base.red(), base.green(), base.blue()), self.palette().color(QPalette.Text).name()

    def __init__(self, session, sampler, class_sampler, parent=None):
        super().__init__(parent)
        self.session = session
        self.sampler = sampler  # an app.corpus_sampler.CorpusSampler
        self.setWidgetResizable(True)
        # Long lines wrap (see token_html) rather than widen the dock.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        body = QWidget()
        self.layout_ = QVBoxLayout(body)
        self.title = QLabel("<i>Click a node in the graph to inspect it.</i>")
        self.title.setTextFormat(Qt.RichText)
        self.title.linkActivated.connect(self.attention_requested.emit)
        self.annotation = AnnotationEditor(session)
        self.prompt_acts = self._rich_label()
        self.histogram = pg.PlotWidget(title="activation over the corpus")
        self.histogram.setMaximumHeight(170)
        self.histogram.setMouseEnabled(False, False)
        self.histogram.hideButtons()
        self.examples = self._rich_label()
        self.edges = self._rich_label()
        self.edges.linkActivated.connect(self.node_link.emit)
        self.by_class = ByClassView(session, class_sampler)
        self.tabs = QTabWidget()
        corpus = QWidget()
        corpus_layout = QVBoxLayout(corpus)
        corpus_layout.setContentsMargins(0, 4, 0, 0)
        corpus_layout.addWidget(self.histogram)
        corpus_layout.addWidget(self.examples)
        self.tabs.addTab(corpus, "Over the corpus")
        self.tabs.addTab(self.by_class, "By class")
        self.tabs.currentChanged.connect(self._fit_tab)
        self._fit_tab()
        for w in (self.title, self.annotation, self.prompt_acts, self.tabs, self.edges):
            self.layout_.addWidget(w)
        self.layout_.addStretch()
        self.setWidget(body)
        self.node: str | None = None
        session.selection_changed.connect(self._on_selection)
        session.predictions_changed.connect(self.refresh_prompt)
        sampler.ready.connect(self._on_sample_ready)
        sampler.progress.connect(self._on_sample_progress)
        sampler.failed.connect(self._on_sample_failed)

    @staticmethod
    def _rich_label() -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.LinksAccessibleByMouse)
        return label

    def _fit_tab(self) -> None:
        """The tabs take the height of the page shown, not of the tallest page."""
        for i in range(self.tabs.count()):
            shown = i == self.tabs.currentIndex()
            policy = QSizePolicy.Preferred if shown else QSizePolicy.Ignored
            self.tabs.widget(i).setSizePolicy(policy, policy)
        self.tabs.adjustSize()

    def _on_selection(self) -> None:
        sel = self.session.selection
        self.show_node(sel[-1] if sel else None)

    def show_node(self, node: str | None) -> None:
        self.node = node
        self.annotation.show_node(node)
        self.by_class.show_node(node)
        if node is None:
            self.title.setText("<i>Click a node in the graph to inspect it.</i>")
            for w in (self.prompt_acts, self.examples, self.edges):
                w.setText("")
            self.histogram.clear()
            return
        n = Node.parse(node)
        location, index = n.site, n.index
        ablated = self.session.ablated(node)
        state = f" &nbsp;<span style='color:#b00'>ablated ({ablated.mode})</span>" if ablated else ""
        head = ""
        if n.location in HEAD_LOCATIONS:
            head = f"<br><a href='{node}'>Attention of this head…</a>"
        self.title.setText(f"<h3 style='margin:0'>{node}</h3>{location}, channel {index}{state}{head}")
        self.refresh_prompt()
        self._show_corpus(node)
        self._show_edges(node)

    def refresh_prompt(self) -> None:
        s, node = self.session, self.node
        if node is None or s.current is None:
            return
        n = Node.parse(node)
        now = s.current.activations[n.site][:, n.index]
        base = s.baseline.activations[n.site][:, n.index]
        text = (
            f"<b>On this prompt</b> (hover a token for its value; shading: "
            f"<span style='background:{shade(1, 1, self._colours()[0])}'>&nbsp;+&nbsp;</span> "
            f"<span style='background:{shade(-1, 1, self._colours()[0])}'>&nbsp;−&nbsp;</span>"
            f" relative to the largest |value|):<br>"
        ) + token_html(s.tokens(), now, s.position, None, *self._colours(), spaced=not s.bench.reads_text)
        if s.interventions:
            text += (
                f"<br>at the chosen token: {base[s.position]:+.3f} unmodified, "
                f"{now[s.position]:+.3f} with ablations"
            )
        else:
            text += f"<br>at the chosen token: {now[s.position]:+.3f}"
        self.prompt_acts.setText(text)

    def _on_sample_ready(self) -> None:
        if self.node is not None:
            self._show_corpus(self.node)

    def _on_sample_progress(self, done: int, total: int) -> None:
        if self.node is not None and not self.sampler.has(self.node):
            self.examples.setText(f"<i>sampling corpus… {done / total:.0%}</i>")

    def _on_sample_failed(self, message: str) -> None:
        if self.node is not None:
            self.examples.setText(f"<i>Could not sample the corpus: {html.escape(message)}</i>")

    def _show_corpus(self, node: str) -> None:
        graph = self.session.graph
        sample = self.sampler.request(node, graph.nodes if graph is not None else ())
        if sample is None:
            self.histogram.clear()
            self.examples.setText("<i>sampling corpus…</i>")
            return
        values = node_values(sample, node).reshape(-1)
        counts, edges = np.histogram(values, bins=40)
        self.histogram.clear()
        self.histogram.addItem(
            pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts, brush=(120, 140, 200))
        )
        tok = self.session.bench.tokenizer
        scale = float(np.abs(values).max()) or 1.0
        rows = [
            f"<b>Examples over the corpus</b> ({values.size:,} tokens; {(values != 0).mean():.0%} nonzero):"
        ]
        for label, contexts in examples_by_bin(sample, node, tok):
            for c in contexts:
                vals = np.zeros(len(c.tokens))
                vals[c.focus] = c.value
                rows.append(
                    f"<span style='color:gray'>{label}</span> {c.value:+.2f} &nbsp;"
                    + token_html(c.tokens, vals, c.focus, scale, *self._colours())
                )
        n = Node.parse(node)
        location, index = n.site, n.index
        if location.endswith("resid_delta") or location.endswith("act_in"):
            if index < self.session.bench.model.config.d_model:
                top = top_tokens_for_channel(self.session.bench.model, tok, index)
                for which, pairs in top.items():
                    listed = ", ".join(f"{html.escape(visible(t))} ({w:+.2f})" for t, w in pairs)
                    rows.append(f"<b>{which}</b> weights on channel {index}: {listed}")
        self.examples.setText("<br>".join(rows))

    def _show_edges(self, node: str) -> None:
        graph = self.session.graph
        ins, outs = graph_edges(graph, node) if graph is not None else ([], [])

        def fmt(items):
            return "<br>".join(f"<a href='{n}'>{n}</a> {w:+.3f}" for n, w in items[:40]) or "none"

        self.edges.setText(
            f"<b>Inputs</b> ({len(ins)} in the graph shown; click to go there):"
            f"<br>{fmt(ins)}<br><b>Outputs</b> ({len(outs)}):<br>{fmt(outs)}"
        )


def graph_edges(graph, node: str):
    """(inputs, outputs) of a node in a GraphData: [(other node, weight)], largest first. Uses
    the graph's CSR index of incident edges, not a walk over every edge."""
    index = graph.index()
    if node not in index:
        return [], []
    i = index[node]
    edges = graph.incident(i)
    ins = [(graph.nodes[graph.src[e]], float(graph.weight[e])) for e in edges if graph.dst[e] == i]
    outs = [(graph.nodes[graph.dst[e]], float(graph.weight[e])) for e in edges if graph.src[e] == i]
    key = lambda p: -abs(p[1])  # noqa: E731
    return sorted(ins, key=key), sorted(outs, key=key)
