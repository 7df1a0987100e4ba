"""map_fixed_batches: one batch shape for any count, outputs equal to one call on everything."""

import numpy as np
import pytest

from facejax.data.fixed_batches import map_fixed_batches


@pytest.mark.parametrize("count", [1, 4, 5, 11])
def test_outputs_match_one_call_and_every_batch_has_the_fixed_size(count):
    inputs = np.arange(count * 3, dtype=np.float32).reshape(count, 3)
    shapes = []

    def fn(batch):
        shapes.append(batch.shape)
        return {"sum": batch.sum(-1), "pair": (batch * 2, batch[:, :1])}

    out = map_fixed_batches(fn, inputs, batch_size=4)
    assert set(shapes) == {(4, 3)} and len(shapes) == -(-count // 4)
    np.testing.assert_array_equal(out["sum"], inputs.sum(-1))
    np.testing.assert_array_equal(out["pair"][0], inputs * 2)
    np.testing.assert_array_equal(out["pair"][1], inputs[:, :1])


def test_no_inputs_is_an_error():
    with pytest.raises(ValueError, match="no inputs"):
        map_fixed_batches(lambda b: b, np.zeros((0, 2)), batch_size=4)
