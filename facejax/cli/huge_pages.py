"""Transparent huge pages for XLA's host buffers: the ``facejax`` command re-runs itself once with
glibc's malloc told to use them.

XLA on a CPU allocates the temporary buffers of every execution anew; glibc serves allocations
over its mmap threshold with fresh ``mmap``s, and the kernel maps them on first touch one 4 KiB
page at a time. A batch of eight 224 px images through the rasterizer's gradient took 14,400
page faults per call (about 4 ms per image of a 6 ms total). With
``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (glibc 2.35 or later) malloc asks for transparent huge
pages (``madvise``) on those maps, 2 MiB per fault: the same call took 99-150 faults, and the
recipes' training steps ran 10-20 % faster (docs/performance.md, *Huge pages*). glibc reads the
setting only at process start, hence the re-run; the library itself never does this (set the
variable yourself for a notebook or your own script).

Off with ``FACEJAX_HUGE_PAGES=0``; skipped where it cannot help: not Linux with glibc 2.35+,
transparent huge pages ``never`` (nothing to ask for) or ``always`` (the kernel already gives
them), or a ``glibc.malloc.hugetlb`` already in ``GLIBC_TUNABLES`` (the user's choice stands).
"""

from __future__ import annotations

import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb=1"
# Set to "0" to keep the command from re-running itself.
OPT_OUT = "FACEJAX_HUGE_PAGES"
_THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"
# glibc's first release with the glibc.malloc.hugetlb tunable.
_MIN_GLIBC = (2, 35)


def transparent_huge_pages() -> str | None:
    """The kernel's transparent huge page mode (``always``, ``madvise``, ``never``), or
    ``None`` where there is no such setting (not Linux, or not readable)."""
    try:
        with open(_THP_SETTING) as f:
            text = f.read()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def glibc_version() -> tuple[int, ...] | None:
    """The C library's version if it is glibc, else ``None``."""
    name, version = platform.libc_ver()
    if name != "glibc" or not version:
        return None
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return None


def wanted(environ, glibc: tuple[int, ...] | None, thp_mode: str | None) -> bool:
    """Whether a re-run with ``TUNABLE`` would change anything (see the module docstring)."""
    if environ.get(OPT_OUT, "1") == "0":
        return False
    if glibc is None or glibc < _MIN_GLIBC or thp_mode != "madvise":
        return False
    return "glibc.malloc.hugetlb" not in environ.get("GLIBC_TUNABLES", "")


def with_tunable(tunables: str | None) -> str:
    """``GLIBC_TUNABLES`` with ``TUNABLE`` added to what it already sets."""
    return f"{tunables}:{TUNABLE}" if tunables else TUNABLE


def rerun_with_huge_pages() -> None:
    """Replaces this process by the same command line with ``TUNABLE`` set, when ``wanted``;
    returns only when it is not (or the re-run cannot start, which changes nothing)."""
    if not wanted(os.environ, glibc_version(), transparent_huge_pages()):
        return
    argv = getattr(sys, "orig_argv", None)  # the interpreter, its options, then the script's
    if not argv:
        return
    environ = dict(os.environ, GLIBC_TUNABLES=with_tunable(os.environ.get("GLIBC_TUNABLES")))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, environ)
    except OSError:
        return
