"""`sparse-circuits --self-test`, as the installers run it (here on the tiny default model)."""

from app.selftest import run_self_test


def test_self_test_passes_and_says_so(qapp, default_model, capsys):
    assert run_self_test() == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == "self-test ok"
    assert "trained 5 steps in a worker" in err and "moved the logit difference" in err


def test_self_test_fails_with_the_reason(qapp, default_model, monkeypatch, tmp_path, capsys):
    import app.session

    monkeypatch.setattr(app.session, "default_model_dir", lambda: tmp_path / "no-model")
    assert run_self_test() == 1
    out, err = capsys.readouterr()
    assert "self-test ok" not in out
    assert "self-test failed:" in err and "no-model" in err
