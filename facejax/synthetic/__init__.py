"""The embedded default morphable model: a procedurally generated, face-like head.

``synthetic_model()`` needs no download; ``facejax.load_model("synthetic")`` returns it. See
docs/synthetic_model.md for how it is built, what its components do and what it is not.
"""

from facejax.synthetic.expression import EXPRESSION_NAMES
from facejax.synthetic.landmarks import ibug_mirror_permutation
from facejax.synthetic.model import VARIANTS, synthetic_model

__all__ = ["EXPRESSION_NAMES", "VARIANTS", "ibug_mirror_permutation", "synthetic_model"]
