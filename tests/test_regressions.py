"""Programs that once compiled wrongly stay fixed."""
import numpy as np
import pytest

import ppc

import data.regressions as R

from programs import assert_tree_close


@pytest.mark.parametrize("fn,args", [
    (R.rebinds_in_later_loop, (np.array([0.3, -0.2]), np.float64(0.7))),
    (R.nested_conditional_expressions, (np.float64(2.0),)),
    (R.nested_conditional_expressions, (np.float64(1.0),)),
    (R.nested_conditional_expressions, (np.float64(-1.0),)),
    (R.predicate_folds_to_constant, (np.array([0.0, 2.0]),)),
])
def test_matches_eager(fn, args):
    assert_tree_close(ppc.compile(fn)(*args), fn(*args), check_dtype=True)


def test_rebinding_in_a_loop_that_may_not_run_is_refused_when_used():
    with pytest.raises(ppc.CompileError, match="may run no iterations rebinds it to another shape"):
        ppc.compile(R.rebinds_in_dynamic_loop)(np.ones(3), 2)
