"""File ▸ …: opening models, circuits and workspaces (also from Open Recent), saving
workspaces, and exports. A failure is a warning that names the file and changes nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from core.data.tinypython import FILES as TOKENIZER_FILES
from core.data.tinypython import find_tokenizer_dir, load_tokenizer
from core.fileio import FileFormatError
from core.formats import find_checkpoint_dir, is_openai_folder

from .recent import RecentFiles
from .views.viz_browser import VizBrowser
from .workspace import FILE_FILTER, SUFFIX, load_workspace, save_workspace

log = logging.getLogger(__name__)

TOKENIZERS_KEY = "openai/tokenizers"  # {model folder: tokenizer folder}, as JSON


class FileMenu(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window, self.session = window, window.session
        self.recent = RecentFiles(window.settings)
        self.recent_menu: QMenu | None = None
        self.session.job_failed.connect(self._on_job_failed)
        self.session.tokenizer_dirs = self._saved_tokenizer_dirs()

    def build(self, menu: QMenu) -> None:
        add = self.window._action
        add(menu, "&Open checkpoint…", self.open_checkpoint, QKeySequence.Open)
        add(menu, "Open &circuit…", self.open_circuit, "Ctrl+Shift+O")
        add(menu, "&Browse OpenAI circuits…", self.browse_viz)
        add(menu, "Open &workspace…", lambda: self.open_workspace())
        add(menu, "Compare &with circuit…", lambda: self.compare_with())
        add(menu, "Open a &training run's circuits…", lambda: self.open_formation())
        self.stop_comparing_action = add(menu, "Stop comparing", self.session.stop_comparing)
        self.stop_comparing_action.setEnabled(False)
        self.session.comparison_changed.connect(
            lambda: self.stop_comparing_action.setEnabled(self.session.comparison is not None)
        )
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_shown)
        self.fill_recent_menu()
        add(menu, "Open the &default model", self.open_default)
        menu.addSeparator()
        add(menu, "&Save workspace…", self.save_workspace, QKeySequence.Save)
        add(menu, "Export circuit as &JSON…", self.export_circuit, "Ctrl+E")
        add(menu, "Export graph as &PNG…", lambda: self.export_graph("png"))
        add(menu, "Export graph as &SVG…", lambda: self.export_graph("svg"))

    def guard(self, what: str, fn, *args, consequence: str = "Nothing was changed.") -> bool:
        try:
            fn(*args)
            return True
        except (FileFormatError, ValueError, OSError) as e:
            log.warning("Could not %s: %s", what, e)
            QMessageBox.warning(self.window, f"Could not {what}", f"{e}\n\n{consequence}")
            return False

    def start_in(self, kind: str, name: str = "") -> str:
        """Where a file dialog for `kind` opens: the folder last used for it (then home)."""
        folder = self.window.settings.value(f"dialogs/{kind}", "") or str(Path.home())
        return str(Path(folder) / name) if name else folder

    def remember_folder(self, kind: str, path) -> None:
        path = Path(path)
        self.window.settings.setValue(f"dialogs/{kind}", str(path if path.is_dir() else path.parent))

    def _done(self, kind: str, path, what: str) -> None:
        self.remember_folder(kind, path)
        self.recent.add(kind, path)
        self.fill_recent_menu()
        self.window.say(f"{what} {path}", 5000)

    # ---- opening ---------------------------------------------------------------------------

    def _on_job_failed(self, what: str, message: str) -> None:
        log.warning("Could not %s: %s", what, message)
        then = (
            "Nothing was changed."
            if self.session.bench is not None
            else "Use File ▸ Open checkpoint to open another model."
        )
        QMessageBox.warning(self.window, f"Could not {what}", f"{message}\n\n{then}")

    def open_default(self) -> None:
        """In the background, like every model: the window stays live while it loads."""
        self.session.open_default_in_background(lambda: self.window.say("Opened the default model", 5000))

    def open_checkpoint(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open a checkpoint folder (ours or OpenAI's)", self.start_in("checkpoint")
        )
        if folder:
            self.open_model(folder)

    def open_model(self, folder) -> None:
        if self._lacks_tokenizer(folder):
            choice = self.ask_tokenizer(folder)
            if choice is None or (choice == "choose" and not self.choose_tokenizer(folder)):
                return
        done = lambda: self._done("checkpoint", folder, "Opened the checkpoint")  # noqa: E731
        self.session.open_in_background(folder, done)

    # ---- an OpenAI model's tokenizer -------------------------------------------------------

    def _lacks_tokenizer(self, folder) -> bool:
        """An OpenAI model with no tinypython folder beside or above it, nor one chosen."""
        try:
            model_dir = find_checkpoint_dir(Path(folder))
        except FileFormatError:
            return False  # opening it says why
        return (
            is_openai_folder(model_dir)
            and find_tokenizer_dir(model_dir) is None
            and self.session.tokenizer_for(folder) is None
        )

    def ask_tokenizer(self, folder) -> str | None:
        """How to open an OpenAI model whose tokenizer is not at hand: "choose" its folder,
        "ids" (prompts and outputs as token ids), or None (do not open it)."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Question)
        box.setWindowTitle("This model needs its tokenizer")
        box.setText(
            f"{folder} is one of OpenAI's models. It reads text through OpenAI's tinypython "
            f"tokenizer, a folder holding {' and '.join(TOKENIZER_FILES)}, and none is beside it "
            "or in a folder above it."
        )
        box.setInformativeText(
            "No other tokenizer can stand in for it: the model would read other tokens than the "
            "ones it was trained on. Without it the model opens showing token ids: a prompt is "
            "typed as ids (12 7 2047), and mean ablation and tasks, which need text, are off."
        )
        choose = box.addButton("Choose the folder…", QMessageBox.AcceptRole)
        ids = box.addButton("Open with token ids", QMessageBox.ActionRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(choose)
        box.exec()
        return {choose: "choose", ids: "ids"}.get(box.clickedButton())

    def choose_tokenizer(self, folder) -> bool:
        """Ask for the folder of an OpenAI model's tokenizer; True once one is chosen and reads.
        The choice is remembered for this model."""
        chosen = QFileDialog.getExistingDirectory(
            self.window, "The model's tokenizer folder (encoder.json + vocab.bpe)", self.start_in("tokenizer")
        )
        if not chosen or not self.guard("use the tokenizer folder", load_tokenizer, chosen):
            return False
        self.remember_folder("tokenizer", chosen)
        self.session.tokenizer_dirs[str(Path(folder).resolve())] = chosen
        self.window.settings.setValue(TOKENIZERS_KEY, json.dumps(self.session.tokenizer_dirs))
        return True

    def _saved_tokenizer_dirs(self) -> dict[str, str]:
        try:
            saved = json.loads(self.window.settings.value(TOKENIZERS_KEY, "") or "{}")
        except ValueError:
            return {}
        if not isinstance(saved, dict):
            return {}
        return {
            k: v for k, v in saved.items() if isinstance(k, str) and isinstance(v, str) and Path(v).is_dir()
        }

    def open_circuit(self, path=None) -> None:
        path = (
            path
            or QFileDialog.getOpenFileName(
                self.window, "Open a circuit", self.start_in("circuit"), "Circuit (*.json *.pt)"
            )[0]
        )
        if path:  # a viz_data.pt opens in the background: failures come through job_failed
            done = lambda: self._done("circuit", path, "Opened the circuit")  # noqa: E731
            self.guard("open the circuit", self.session.open_circuit, path, done)

    def compare_with(self, path=None) -> None:
        """A second circuit of this model, overlaid on the open one in the graph."""
        if self.session.circuit is None:
            QMessageBox.information(self.window, "No circuit", "Open or prune a circuit to compare first.")
            return
        path = (
            path
            or QFileDialog.getOpenFileName(
                self.window, "Compare with a circuit", self.start_in("circuit"), "Circuit (*.json *.pt)"
            )[0]
        )
        if path:

            def done():
                self.remember_folder("circuit", path)
                self.window.say(f"Comparing with {path}", 5000)

            self.guard("compare with the circuit", self.session.compare_with, path, done)

    def open_formation(self, path=None) -> None:
        """A task's circuits at every kept checkpoint of a run (`experiment formation`), to step
        through in the Training run panel."""
        path = path or QFileDialog.getExistingDirectory(
            self.window, "An `experiment formation` result (its --out folder)", self.start_in("formation")
        )
        if path:

            def done():
                self.remember_folder("formation", path)
                self.window.show_training_run()
                self.window.say(f"Opened the training run of {path}", 5000)

            self.guard("open the training run", self.session.open_formation, path, done)

    def show_formation_step(self, index: int, reference: str) -> None:
        self.guard("show the step", self.session.show_formation_step, index, reference)

    def browse_viz(self, root=None) -> VizBrowser | None:
        """OpenAI's published circuits under a folder (its viz/ tree), to pick one to open."""
        root = root or QFileDialog.getExistingDirectory(
            self.window, "A folder of OpenAI's circuits (holding viz/)", self.start_in("viz")
        )
        if not root:
            return None
        try:
            browser = VizBrowser(root, self.window)
        except (FileFormatError, OSError) as e:
            QMessageBox.warning(self.window, "Could not browse the circuits", str(e))
            return None
        self.remember_folder("viz", root)
        browser.chosen.connect(self.open_circuit)
        browser.open()
        return browser

    def open_workspace(self, path=None) -> None:
        path = (
            path
            or QFileDialog.getOpenFileName(
                self.window, "Open a workspace", self.start_in("workspace"), FILE_FILTER
            )[0]
        )
        if path:
            self.guard("open the workspace", self._restore_workspace, path)

    def _restore_workspace(self, path) -> None:
        workspace = load_workspace(path)

        def restored():
            self.window.threshold.setValue(workspace.edge_threshold)
            self._done("workspace", path, "Opened the workspace")

        self.session.restore_workspace_in_background(workspace, str(path), restored)

    # ---- saving ----------------------------------------------------------------------------

    def save_workspace(self) -> None:
        if self.session.bench is None:
            QMessageBox.information(self.window, "Nothing to save", "Open a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save workspace", self.start_in("workspace", f"workspace{SUFFIX}"), FILE_FILTER
        )
        if not path:
            return
        if not path.endswith(".json"):
            path += SUFFIX
        workspace = self.session.workspace(self.window.threshold.value())
        if self.guard("save the workspace", save_workspace, path, workspace):
            self._done("workspace", path, "Saved the workspace")

    def export_circuit(self) -> None:
        if self.session.circuit is None:
            QMessageBox.information(self.window, "No circuit", "Open or prune a circuit first.")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export circuit", self.start_in("circuit", "circuit.json"), "JSON (*.json)"
        )
        if path and self.guard(
            "export the circuit", self.session.save_circuit, path, consequence="No file was written."
        ):
            self._done("circuit", path, "Saved the circuit")

    def export_graph(self, fmt: str) -> None:
        from .views.graph_export import PAGE, export_graph

        if self.session.graph is None:
            QMessageBox.information(self.window, "No graph", "Open a model first.")
            return
        scale = 1.0
        if fmt == "png":
            scale, ok = QInputDialog.getDouble(
                self.window,
                "Export graph as PNG",
                f"Scale ({PAGE.width()}x{PAGE.height()} at 1; 2 for print, 4 for a poster):",
                2.0,
                1.0,
                6.0,
                1,
            )
            if not ok:
                return
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export graph", self.start_in("figure", f"graph.{fmt}"), f"{fmt.upper()} (*.{fmt})"
        )
        if not path:
            return
        self.remember_folder("figure", path)
        title, subtitle = self.figure_title()
        if self.guard(
            "export the graph",
            export_graph,
            self.window.graph,
            path,
            fmt,
            title,
            subtitle,
            scale,
            consequence="No file was written.",
        ):
            self.window.say(f"Exported the graph to {path}", 5000)

    def figure_title(self) -> tuple[str, str]:
        """The figure's title (task and model) and a line saying what it shows."""
        s, c = self.session, self.session.circuit
        model = s.model_name
        if c is None:
            return f"{model}: the whole model", f"{len(s.graph.nodes):,} nodes"
        views = {
            "circuit": "the circuit",
            "neighbours": "the circuit and its neighbours",
            "model": "the whole model",
        }
        shown = views.get(s.graph_mode, s.graph_mode)
        ivs = len(s.interventions)
        return (
            f"{c.task} circuit of the {model}",
            f"{c.size_text(per_location=False)}; task loss {c.loss_circuit:.3f} "
            f"(full model {c.loss_full:.3f}, target {c.target_loss}); {c.ablation} ablation; "
            f"showing {shown}, {self.window.threshold_label.text()}"
            + (f"; {ivs} intervention{'s' if ivs != 1 else ''}" if ivs else ""),
        )

    # ---- Open Recent -----------------------------------------------------------------------

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        entries = self.recent.entries()
        for i, (kind, path) in enumerate(entries, 1):
            action = menu.addAction(f"&{i} {Path(path).name}  ({kind})")
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(lambda _=False, k=kind, p=path: self.open_recent(k, p))
        if not entries:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent", self.clear_recent).setEnabled(bool(entries))

    def _on_recent_menu_shown(self) -> None:
        gone = self.recent.prune_missing()
        if gone:
            self.window.say(f"Removed from Open Recent, no longer there: {', '.join(gone)}", 10000)
        self.fill_recent_menu()

    def open_recent(self, kind: str, path: str) -> None:
        if not Path(path).exists():
            self.recent.remove(path)
            self.fill_recent_menu()
            log.warning("%s no longer exists; removed from Open Recent", path)
            QMessageBox.warning(
                self.window,
                f"Could not open the {kind}",
                f"{path} no longer exists. It was removed from Open Recent.",
            )
            return
        {"checkpoint": self.open_model, "circuit": self.open_circuit, "workspace": self.open_workspace}[kind](
            path
        )

    def clear_recent(self) -> None:
        self.recent.clear()
        self.fill_recent_menu()
        self.window.say("Cleared the recent files", 5000)
