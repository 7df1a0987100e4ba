"""The output folder of ``fit`` and ``reconstruct``: never a file, never a used folder unless
``--force``.

A second run into the folder of a first would overwrite some of its files and leave the others
beside them, two runs mixed; like ``convert`` and ``render`` with an existing file, the command
refuses unless ``--force`` says so. The check runs before any work, so a wrong ``--out`` costs
nothing.
"""

from __future__ import annotations

from pathlib import Path


def check_out_folder(path, *, force: bool, option: str = "--out") -> Path:
    """``path`` as a Path once it is fit to write into (it is not created here).

    Raises:
      ValueError: ``path`` is an existing file, or a folder that holds files and ``force`` is
        False; the message names the option and the remedy.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {folder}: is an existing file, not a folder")
    if folder.is_dir() and not force:
        used = sorted(p.name for p in folder.iterdir())
        if used:
            shown = ", ".join(used[:3]) + (", ..." if len(used) > 3 else "")
            raise ValueError(
                f"{option} {folder}: the folder is not empty ({shown}); pass --force to write "
                f"into it (files of the same name are replaced, others are left)"
            )
    return folder
