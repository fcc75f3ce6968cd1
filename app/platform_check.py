"""Before Qt starts on a Linux X11 desktop: the system libraries its xcb plugin loads. Without
them Qt aborts with its own message and a core dump; we say which packages to install."""

from __future__ import annotations

import ctypes
import os
import sys

# The shared library Qt's xcb platform plugin needs, and the Debian/Ubuntu package holding it.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
}


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start its xcb (X11) plugin: on Linux, asked for, or an X display and
    no Wayland one."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(":")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def missing_xcb_packages(load=ctypes.CDLL) -> list[str]:
    missing = []
    for library, package in XCB_LIBRARIES.items():
        try:
            load(library)
        except OSError:
            missing.append(package)
    return missing


def desktop_problem(environ=os.environ, platform: str = sys.platform, load=ctypes.CDLL) -> str | None:
    """What to tell the user instead of letting Qt abort, or None if the window can open."""
    if not uses_xcb(environ, platform):
        return None
    missing = missing_xcb_packages(load)
    if not missing:
        return None
    return (
        "sparse-circuits: the window cannot open: Qt's X11 support needs system libraries that "
        f"are missing. Install them (Debian/Ubuntu): sudo apt-get install {' '.join(missing)}. "
        "The commands (train, prune, check, ...) work without them."
    )
