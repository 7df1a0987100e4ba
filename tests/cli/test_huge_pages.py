"""The ``facejax`` command's re-run with transparent huge pages (facejax/cli/huge_pages.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

from facejax.cli import huge_pages

GLIBC = (2, 36)


@pytest.mark.parametrize(
    "environ, glibc, thp, expected",
    [
        ({}, GLIBC, "madvise", True),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}, GLIBC, "madvise", True),
        ({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}, GLIBC, "madvise", False),  # the user's
        ({"GLIBC_TUNABLES": huge_pages.TUNABLE}, GLIBC, "madvise", False),  # already re-run
        ({huge_pages.OPT_OUT: "0"}, GLIBC, "madvise", False),
        ({huge_pages.OPT_OUT: "1"}, GLIBC, "madvise", True),
        ({}, (2, 34), "madvise", False),  # no such tunable yet
        ({}, None, "madvise", False),  # musl, macOS, Windows
        ({}, GLIBC, "always", False),  # the kernel gives them already
        ({}, GLIBC, "never", False),
        ({}, GLIBC, None, False),
    ],
)
def test_wanted(environ, glibc, thp, expected):
    assert huge_pages.wanted(environ, glibc, thp) is expected


def test_the_tunable_joins_what_is_already_set():
    assert huge_pages.with_tunable(None) == huge_pages.TUNABLE
    assert huge_pages.with_tunable("") == huge_pages.TUNABLE
    assert (
        huge_pages.with_tunable("glibc.malloc.trim_threshold=1")
        == "glibc.malloc.trim_threshold=1:" + huge_pages.TUNABLE
    )


_REPORT = textwrap.dedent(
    """
    import os, sys
    from facejax.cli import huge_pages
    print("start", flush=True)
    huge_pages.rerun_with_huge_pages()
    print("tunables", os.environ.get("GLIBC_TUNABLES"), sys.argv[1:], flush=True)
    """
)


@pytest.mark.parametrize("opt_out", [False, True])
def test_the_process_reruns_itself_once_with_its_arguments(opt_out):
    environ = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    environ.pop(huge_pages.OPT_OUT, None)
    if opt_out:
        environ[huge_pages.OPT_OUT] = "0"
    result = subprocess.run(
        [sys.executable, "-c", _REPORT, "--flag", "value"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rerun = huge_pages.wanted(
        environ, huge_pages.glibc_version(), huge_pages.transparent_huge_pages()
    )
    lines = result.stdout.splitlines()
    # A re-run starts the script again: "start" twice, the report once, arguments kept.
    assert lines.count("start") == (2 if rerun else 1)
    expected = huge_pages.TUNABLE if rerun else None
    assert lines[-1] == f"tunables {expected} ['--flag', 'value']"
    if opt_out:
        assert not rerun


def test_the_mode_is_read_from_the_bracketed_word(tmp_path, monkeypatch):
    setting = tmp_path / "enabled"
    setting.write_text("always [madvise] never\n")
    monkeypatch.setattr(huge_pages, "_THP_SETTING", str(setting))
    assert huge_pages.transparent_huge_pages() == "madvise"
    setting.write_text("garbage\n")
    assert huge_pages.transparent_huge_pages() is None
    monkeypatch.setattr(huge_pages, "_THP_SETTING", str(tmp_path / "missing"))
    assert huge_pages.transparent_huge_pages() is None


def test_only_the_compute_commands_of_a_command_line_rerun(monkeypatch):
    from facejax import cli

    calls = []
    monkeypatch.setattr(huge_pages, "rerun_with_huge_pages", lambda: calls.append(1))
    for argv, expected in (
        (["facejax", "info", "--help"], 0),
        (["facejax", "train", "--help"], 1),
        (["facejax", "render", "--help"], 1),
    ):
        calls.clear()
        monkeypatch.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit):
            cli.main()
        assert len(calls) == expected, argv
    calls.clear()
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])  # called in-process with arguments: never re-run
    assert not calls
