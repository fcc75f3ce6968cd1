"""Build the Linux artifacts: the one-folder bundle, a portable .tar.gz and a .deb.

    python packaging/build.py [--out dist] [--bundle-only] [--skip-self-test]

Steps: PyInstaller (packaging/sparse_circuits.spec), strip torch's symbol tables, run the
bundle's --self-test, then pack `sparse-circuits-VERSION-linux-ARCH.tar.gz` and
`sparse-circuits_VERSION_ARCH.deb` into --out. Prints a JSON summary (sizes, seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
NAME = "sparse-circuits"

# What Qt's xcb platform plugin and torch need from the system (the bundle carries the rest).
DEB_DEPENDS = [
    "libc6 (>= 2.28)",
    "libgl1",
    "libegl1",
    "libfontconfig1",
    "libfreetype6",
    "libdbus-1-3",
    "libglib2.0-0 | libglib2.0-0t64",
    "libx11-xcb1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xfixes0",
    "libxcb-xkb1",
]

DESKTOP_ENTRY = """[Desktop Entry]
Type=Application
Name=Sparse Circuits
GenericName=Circuit explorer for sparse transformers
Comment=Train weight-sparse transformers, prune them to circuits, and explore them
Exec={exec} %f
Icon=sparse-circuits
Terminal=false
Categories=Education;Science;Development;
Keywords=interpretability;transformer;circuit;neural network;
"""


class BuildError(RuntimeError):
    pass


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^version = "([^"]+)"', text, re.MULTILINE).group(1)


def torch_variant() -> str:
    """ "cuda" when the build environment's torch is a CUDA build (the bundle carries it)."""
    import torch

    return "cuda" if torch.version.cuda else ""


def deb_arch() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise BuildError(f"{' '.join(map(str, cmd[:3]))} … failed ({result.returncode}):\n{tail}")
    return result


def build_bundle(work: Path) -> Path:
    """PyInstaller into work/bundle/sparse-circuits; returns that folder."""
    dist = work / "bundle"
    shutil.rmtree(dist, ignore_errors=True)
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            PACKAGING / "sparse_circuits.spec",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            dist,
            "--workpath",
            work / "pyinstaller",
        ],
        cwd=ROOT,
    )
    bundle = dist / NAME
    strip_torch(bundle)
    return bundle


def strip_torch(bundle: Path) -> None:
    """Strip the symbol tables of torch's own libraries (not numpy's OpenBLAS: that breaks)."""
    if sys.platform != "linux" or shutil.which("strip") is None:
        return
    libs = sorted((bundle / "_internal" / "torch" / "lib").glob("*.so*"))
    if libs:
        run(["strip", "--strip-unneeded", *libs])


def self_test(executable: Path) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [str(executable), "--self-test"], capture_output=True, text=True, env=env, timeout=300
    )
    if result.returncode != 0 or "self-test ok" not in result.stdout:
        raise BuildError(f"{executable} --self-test failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def make_tarball(bundle: Path, out: Path, ver: str, variant: str = "") -> Path:
    top = f"{NAME}-{ver}"
    suffix = f"-{variant}" if variant else ""
    target = out / f"{NAME}-{ver}-linux-{platform.machine()}{suffix}.tar.gz"
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=top)
        for extra in ("install-desktop-entry.sh", "README-linux.txt"):
            tar.add(PACKAGING / "linux" / extra, arcname=f"{top}/{extra}")
        tar.add(PACKAGING / "icons" / f"{NAME}.png", arcname=f"{top}/{NAME}.png")
    partial.replace(target)
    return target


def make_deb(bundle: Path, out: Path, work: Path, ver: str, variant: str = "") -> Path:
    if shutil.which("dpkg-deb") is None:
        raise BuildError("dpkg-deb is not installed (Debian package dpkg); cannot build the .deb")
    root = work / "deb"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(bundle, root / "opt" / NAME, symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / NAME).symlink_to(f"/opt/{NAME}/{NAME}")
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    (apps / f"{NAME}.desktop").write_text(DESKTOP_ENTRY.format(exec=f"/opt/{NAME}/{NAME}"))
    icons = root / "usr" / "share" / "icons" / "hicolor" / "256x256" / "apps"
    icons.mkdir(parents=True)
    shutil.copy2(PACKAGING / "icons" / f"{NAME}.png", icons / f"{NAME}.png")
    debian = root / "DEBIAN"
    debian.mkdir()
    arch = deb_arch()
    package = f"{NAME}-{variant}" if variant else NAME
    # The CPU and CUDA builds install the same files: one replaces the other.
    relations = [f"Provides: {NAME}", f"Conflicts: {NAME}", f"Replaces: {NAME}"] if variant else []
    (debian / "control").write_text(
        "\n".join(
            [
                f"Package: {package}",
                f"Version: {ver}",
                f"Architecture: {arch}",
                *relations,
                "Maintainer: Sparse Circuits developers <maintainers@sparsecircuits.invalid>",
                f"Installed-Size: {folder_size(root) // 1024}",
                f"Depends: {', '.join(DEB_DEPENDS)}",
                "Section: science",
                "Priority: optional",
                "Description: train weight-sparse transformers and explore their circuits",
                " A desktop app (and the sparse-circuits command) to train weight-sparse GPTs, prune",
                " them to the circuit behind one behaviour, and ablate nodes and edges live.",
                "",
            ]
        )
    )
    for script in ("postinst", "postrm"):
        path = debian / script
        shutil.copy2(PACKAGING / "linux" / script, path)
        path.chmod(0o755)
    target = out / f"{package}_{ver}_{arch}.deb"
    partial = out / f".{target.name}.partial"
    # gzip: every dpkg reads it, and xz takes ten minutes on two cores for a few percent less.
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", root, partial])
    partial.replace(target)
    shutil.rmtree(root)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python packaging/build.py")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "package")
    parser.add_argument("--bundle-only", action="store_true", help="stop after the bundle")
    parser.add_argument("--skip-self-test", action="store_true")
    args = parser.parse_args(argv)
    if sys.platform != "linux":
        print(
            "packaging/build.py builds the Linux artifacts; see packaging/README.md for Windows and macOS",
            file=sys.stderr,
        )
        return 2
    ver, variant, summary, t0 = version(), torch_variant(), {}, time.perf_counter()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        bundle = build_bundle(args.work)
        summary["bundle"] = str(bundle)
        summary["bundle_mb"] = round(folder_size(bundle) / 2**20, 1)
        summary["bundle_seconds"] = round(time.perf_counter() - t0, 1)
        if not args.skip_self_test:
            summary["self_test"] = self_test(bundle / NAME)
        if not args.bundle_only:
            for key, make in (
                ("tar_gz", lambda: make_tarball(bundle, args.out, ver, variant)),
                ("deb", lambda: make_deb(bundle, args.out, args.work, ver, variant)),
            ):
                path = make()
                summary[key] = str(path)
                summary[f"{key}_mb"] = round(path.stat().st_size / 2**20, 1)
    except BuildError as e:
        print(f"packaging failed: {e}", file=sys.stderr)
        return 1
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
