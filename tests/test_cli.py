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
