"""The masked mean every loss ends in, and the float32 working precision: one home for both,
``facejax.numerics`` (the lowest layer, shared with the fitting objectives), re-exported here so
that the losses import them from their own package."""

from facejax.numerics.masked import keep, masked_mean
from facejax.numerics.precision import at_least_float32

__all__ = ["at_least_float32", "keep", "masked_mean"]
