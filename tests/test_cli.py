"""The command line: help, the demo, and errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bcnmf.cli import main


def test_help_lists_demo(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_prints_the_comparison(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    bcnmf_row = next(line for line in out.splitlines() if line.startswith("bcNMF"))
    nmf_row = next(line for line in out.splitlines() if line.startswith("NMF on target"))
    assert float(bcnmf_row.split()[3]) >= 0.95
    assert float(nmf_row.split()[4]) < 0.1


def test_bad_arguments_exit_non_zero_without_traceback():
    result = subprocess.run([sys.executable, "-m", "bcnmf.cli", "demo", "--beta", "-2"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "bcnmf demo: error: --beta -2 must be >= 0." and "Traceback" not in result.stderr


def test_benchmark_runs_the_checkout_script(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["benchmark", "quality", "--help"])
    assert stop.value.code == 0
    assert "usage: bench_quality.py" in capsys.readouterr().out


def test_a_file_that_is_not_hdf5_is_refused_in_one_line(tmp_path, capsys):
    fake = tmp_path / "cells.h5ad"
    fake.write_text("not an HDF5 file")
    out = tmp_path / "out.h5ad"
    assert main(["fit", str(fake), "--condition-key", "c", "--target", "a", "--background", "b",
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("bcnmf fit: error:") and "\n" not in error and not out.exists()


def test_ctrl_c_exits_130_and_says_what_was_kept(monkeypatch, capsys):
    from bcnmf.cli import commands

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "demo", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err.strip() == "bcnmf demo: interrupted (no file is left half-written)."


@pytest.mark.parametrize("command", ["fit", "report", "select-k"])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, monkeypatch, command):
    from bcnmf.cli import commands

    def no_work(*args, **kwargs):
        raise AssertionError("the data were read before the output was checked")

    monkeypatch.setattr(commands, "read_input", no_work)
    monkeypatch.setattr("anndata.read_h5ad", no_work)
    data = tmp_path / "cells.h5ad"
    data.write_text("")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    inside_a_file = str(blocker / "out.h5ad")
    arguments = {
        "fit": ["fit", str(data), "--condition-key", "c", "--target", "a", "--background", "b", "--out", inside_a_file],
        "report": ["report", str(data), "-o", str(blocker / "report.html")],
        "select-k": ["select-k", str(data), "--out", str(blocker / "k.csv")],
    }[command]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert "cannot be written" in error and "is a file, not a folder" in error and "\n" not in error


def test_fit_refuses_to_overwrite_its_input(tmp_path, capsys):
    data = tmp_path / "cells.h5ad"
    data.write_text("")
    assert main(["fit", str(data), "--condition-key", "c", "--target", "a", "--background", "b",
                 "--out", str(data)]) == 2
    assert "is an input file" in capsys.readouterr().err and data.read_text() == ""
