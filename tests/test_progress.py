"""Progress bars: drawn on a terminal when asked for, never into a log file."""

from __future__ import annotations

import io

import numpy as np

from bcnmf import NMF


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fit_with_stderr(monkeypatch, stream) -> str:
    monkeypatch.setattr("sys.stderr", stream)
    NMF(2, max_iter=20, verbose=True, random_state=0).fit(np.random.default_rng(0).random((30, 10)))
    return stream.getvalue()


def test_a_bar_is_drawn_on_a_terminal(monkeypatch):
    assert "\r" in fit_with_stderr(monkeypatch, Terminal())


def test_no_carriage_returns_go_into_a_log_file(monkeypatch):
    assert fit_with_stderr(monkeypatch, io.StringIO()) == ""
