"""Thin entry point: ``python experiments/main.py --config experiments/disentangle/config.py:smoke
--workdir DIR`` is the same as ``facejax train ...``; the logic lives in facejax.recipes."""

import sys

from facejax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
