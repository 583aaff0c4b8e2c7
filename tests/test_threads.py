"""Threads on a shared machine: what the library suggests, how the command line uses it, and that torch's
thread count is always put back."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from motionclr_lens import threads
from motionclr_lens.cli import main


def test_a_busy_neighbour_is_seen_and_leaves_the_cores_it_does_not_use():
    """One process spinning on a core is counted as about one busy core, and the suggestion leaves it that core
    (on a machine of one core: still one thread)."""
    usable = threads._usable_cores()
    quiet = threads.busy_cores(0.3)
    assert quiet is not None and quiet >= 0
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        busy = threads.busy_cores(0.5)
        suggested = threads.suggested_threads(window=0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy is not None and busy >= 0.7  # the spinner is seen
    assert 1 <= suggested <= max(1, usable - 1)
    assert threads.suggested_threads(most=1) == 1


@pytest.mark.parametrize("value, expected", [(None, None), ("auto", None), (" AUTO ", None), ("", None), ("3", 3)])
def test_thread_settings_read_as_the_command_line_gives_them(value, expected):
    assert threads.thread_setting(value) == expected


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_thread_settings_name_the_value(value):
    with pytest.raises(ValueError, match=rf"threads must be a whole number >= 1 or 'auto', got '{value}'"):
        threads.thread_setting(value)


def test_using_threads_puts_the_count_back_even_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"), threads.using_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be an int >= 1, got 0"), threads.using_threads(0):
        pass


def test_the_command_line_runs_with_the_threads_it_is_told_and_restores_them(monkeypatch, capsys):
    """--threads (or the environment) sets the model's threads for the command; a bad value is status 2."""
    seen: list[int] = []
    import motionclr_lens.cli as cli

    monkeypatch.setattr(cli, "_inspect", lambda args: seen.append(torch.get_num_threads()) or 0)
    before = torch.get_num_threads()
    assert main(["--threads", "1", "inspect"]) == 0
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    assert main(["inspect"]) == 0
    assert seen == [1, 1] and torch.get_num_threads() == before
    assert main(["--threads", "0", "inspect"]) == 2
    assert "threads must be a whole number >= 1 or 'auto', got '0'" in capsys.readouterr().err
