from app.platform_check import XCB_LIBRARIES, desktop_problem, uses_xcb


def loader(missing):
    def load(name):
        if name in missing:
            raise OSError(f"{name}: cannot open shared object file")

    return load


def test_missing_x11_libraries_are_named_with_their_packages():
    x11 = {"DISPLAY": ":0"}
    problem = desktop_problem(x11, "linux", loader({"libxcb-cursor.so.0", "libxcb-icccm.so.4"}))
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4." in problem
    assert desktop_problem(x11, "linux", loader(set())) is None


def test_only_an_x11_session_on_linux_is_checked():
    everything_missing = loader(set(XCB_LIBRARIES))
    assert desktop_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", everything_missing) is None
    assert desktop_problem({"DISPLAY": ":0", "WAYLAND_DISPLAY": "w"}, "linux", everything_missing) is None
    assert desktop_problem({"DISPLAY": ":0"}, "darwin", everything_missing) is None
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:foo"}, "linux")
