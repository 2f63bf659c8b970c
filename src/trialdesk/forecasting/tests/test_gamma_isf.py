"""The tabulated gamma inverse survival function agrees with scipy's within its stated step."""

import numpy as np
import pytest
from scipy import stats

from trialdesk.forecasting.model import GAMMA_ISF_STEP, gamma_isf


@pytest.mark.parametrize(("shape", "scale"), [((30 / 21) ** 2, 21**2 / 30), (0.5, 10.0), (9.0, 2.0), (1.0, 45.0)])
def test_gamma_isf_within_one_step_of_scipy(shape, scale):
    q = np.random.default_rng(3).random(200_000)
    q[:5] = [1.0, 0.5, 1e-13, 1e-300, 0.0]       # the ends: certainty, below the table, zero
    exact = stats.gamma.isf(q, shape, scale=scale)
    ours = gamma_isf(q, shape, scale)
    finite = np.isfinite(exact)
    assert np.array_equal(finite, np.isfinite(ours))
    assert np.abs(ours[finite] - exact[finite]).max() <= GAMMA_ISF_STEP * scale
    assert np.all(np.diff(ours[np.argsort(q)][::-1][1:]) >= -1e-12)  # monotone: a smaller q is a later delay
