"""Example photos that ship with facejax: the README's main job runs on them, with nothing
downloaded.

``astronaut``: NASA's portrait of astronaut Eileen Collins (public domain), as scikit-image ships
it (``skimage.data.astronaut()``), 512 x 512, stored as JPEG (README.md beside this file).

On the command line a photo argument ``example:NAME`` names one of them::

    facejax fit --model synthetic --detect example:astronaut --out astronaut
"""

from __future__ import annotations

import pathlib

# Name -> file in this folder.
EXAMPLES = {"astronaut": "astronaut.jpg"}
# A photo argument starting with this names an example (``example:astronaut``).
EXAMPLE_PREFIX = "example:"


def example_photo(name: str = "astronaut") -> pathlib.Path:
    """The path of the example photo ``name`` (one of :data:`EXAMPLES`).

    Raises:
      ValueError: for an unknown name, listing the known ones.
    """
    if name not in EXAMPLES:
        raise ValueError(f"no example photo {name!r}; one of {sorted(EXAMPLES)}")
    return pathlib.Path(__file__).with_name(EXAMPLES[name])
