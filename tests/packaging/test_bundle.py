"""The frozen app: PyInstaller builds the one-folder bundle, and the bundle passes its own
--self-test (train in a worker, open the default model, ablate an edge, draw the graph)."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("packaging_build", ROOT / "packaging" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(sys.platform != "linux", reason="builds the Linux bundle"),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("PyInstaller", reason="pip install -e '.[package]'")
    return build.build_bundle(tmp_path_factory.mktemp("package"))


def self_test(executable: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [str(executable), "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=executable.parent,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "self-test ok"


def test_bundle_passes_its_self_test(bundle):
    self_test(bundle / "sparse-circuits")


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_deb_installs_a_menu_entry_and_a_working_app(bundle, tmp_path):
    deb = build.make_deb(bundle, tmp_path, tmp_path / "work", build.version())
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    assert "./usr/bin/sparse-circuits -> /opt/sparse-circuits/sparse-circuits" in listing
    assert "./usr/share/applications/sparse-circuits.desktop" in listing
    assert "./usr/share/icons/hicolor/256x256/apps/sparse-circuits.png" in listing
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    entry = (root / "usr/share/applications/sparse-circuits.desktop").read_text()
    assert "Exec=/opt/sparse-circuits/sparse-circuits" in entry and "Icon=sparse-circuits" in entry
    self_test(root / "opt" / "sparse-circuits" / "sparse-circuits")


def test_bundle_is_small_and_lean(bundle):
    if not build.torch_variant():  # a CUDA build carries gigabytes of CUDA libraries
        assert build.folder_size(bundle) < 800 * 2**20
    internal = bundle / "_internal"
    assert (internal / "resources" / "default_model" / "model.safetensors").is_file()
    assert not (internal / "torch" / "include").exists()
    assert not (internal / "torch" / "test").exists()
    assert not list(internal.rglob("libQt6Quick*")) and not (internal / "PySide6" / "Qt" / "qml").exists()


def test_bundle_cli_reports_bad_input_in_one_line(bundle, tmp_path):
    result = subprocess.run(
        [str(bundle / "sparse-circuits"), "info", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "missing" in result.stderr and "Traceback" not in result.stderr
