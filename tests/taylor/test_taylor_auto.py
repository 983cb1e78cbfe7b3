"""plan / fastest_sum pick a method and answer within the tolerance, whichever path answers;
profile_expand reports every pass."""

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.taylor import FC2T2, exact_sum
from quadfree.taylor.auto import Costs, fastest_sum, fc2t2_error, plan
from quadfree.taylor.timing import matmul_peak, profile_expand

# Costs that force each path, so every branch is checked for correctness on a small problem.
ONLY = {
    "dense": Costs(dense_per_pair=0.0),
    "neighbour": Costs(dense_per_pair=1.0, neighbour_per_pair=0.0, neighbour_per_point=0.0),
    "fc2t2": Costs(dense_per_pair=1.0, neighbour_per_pair=1.0, fc2t2_per_cell=1e-9,
                   fc2t2_per_source=0.0, fc2t2_per_target=0.0),
}


@pytest.mark.parametrize("method", ["dense", "neighbour", "fc2t2"])
@pytest.mark.parametrize("alpha,tol", [(20.0, 1e-3), (60.0, 3e-4)])
def test_fastest_sum_is_within_tolerance_whichever_path_answers(method, alpha, tol):
    g = torch.Generator().manual_seed(1)
    p = torch.rand(1, 4000, 3, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.rand(1, 1, 4000, generator=g, dtype=torch.float64)
    q = torch.rand(600, 3, generator=g, dtype=torch.float64) * 2 - 1
    k = f"exp(-{alpha}*(x**2+y**2+z**2))"
    y, chosen = fastest_sum(p, w, q, k, tol, costs=ONLY[method], return_plan=True)
    assert chosen.method == method
    ref = exact_sum(k, p, w, q)
    assert float((y - ref).norm() / ref.norm()) <= tol
    if method == "fc2t2":
        assert chosen.predicted_error <= tol and chosen.levels >= 1


def test_plan_prefers_cheap_paths_and_finer_levels_for_narrow_kernels():
    wide = plan("exp(-8*(x**2+y**2+z**2))", 10**6, 10**6, 1e-4)
    narrow = plan("exp(-2048*(x**2+y**2+z**2))", 10**6, 10**6, 1e-4)
    assert wide.method == "fc2t2"
    assert narrow.method == "neighbour" or narrow.levels > wide.levels
    assert plan("exp(-8*(x**2+y**2+z**2))", 200, 200).method == "dense"
    # the chosen method is the cheapest candidate
    assert wide.predicted_s == min(wide.candidates.values())


def test_error_model_is_monotone_in_width_order_and_density():
    assert fc2t2_error(0.25, 4, 10**5, 4) < fc2t2_error(1.0, 4, 10**5, 4)
    assert fc2t2_error(0.5, 4, 10**5, 4) < fc2t2_error(0.5, 3, 10**5, 4)
    assert fc2t2_error(0.5, 4, 10**6, 5) < fc2t2_error(0.5, 4, 10**4, 5)


def test_plan_for_a_non_gaussian_kernel_and_bad_inputs():
    assert plan("1/(1+x**2+y**2+z**2)", 100, 100).method == "dense"
    assert plan("1/(1+x**2+y**2+z**2)", 10**6, 10**6).method == "fc2t2"
    with pytest.raises(QuadfreeError, match="tol"):
        plan("exp(-8*(x**2+y**2+z**2))", 10, 10, tol=0.0)
    with pytest.raises(QuadfreeError, match="sources p"):
        fastest_sum(torch.zeros(5, 3), torch.ones(1, 1, 5), torch.zeros(2, 3), "exp(-x**2)")


def test_profile_expand_covers_every_pass_and_matches_expand():
    S = FC2T2("exp(-30*(x**2+y**2+z**2))", levels=2, order=3)
    g = torch.Generator().manual_seed(2)
    p = torch.rand(1, 500, 3, generator=g) * 2 - 1
    w = torch.rand(1, 1, 500, generator=g)
    recs = profile_expand(S, p, w, torch.zeros(10, 3), repeats=2, peak_gflops=matmul_peak(
        size=128, repeats=1))
    names = [r["pass"] for r in recs]
    assert names == ["P2M", "M2M 2->1", "M2L 1", "M2L 2", "L2L 1->2", "L2P"]
    assert abs(sum(r["share"] for r in recs) - 1.0) < 1e-6
    assert all(r["flops"] > 0 for r in recs)
    # the timed path computes the same expansion as expand()
    from quadfree.taylor.timing import PassTimer
    E1 = S._expand(p, w, PassTimer(torch.device("cpu")))
    torch.testing.assert_close(E1.coeffs, S.expand(p, w).coeffs)


@pytest.mark.parametrize("alpha_h2", [1 / 64, 1 / 16, 1 / 4, 1.0, 2.0])
def test_calibrated_model_meets_tol_across_widths_and_sparse_grids(alpha_h2):
    # levels 2 (dense grid) and 3 (sparse: 2.4 sources per finest cell), orders 2-4: wherever
    # the model predicts an error <= tol, the expansion's measured error is <= tol as well
    g = torch.Generator().manual_seed(7)
    p = torch.rand(1, 1200, 3, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.rand(1, 1, 1200, generator=g, dtype=torch.float64)
    q = torch.rand(300, 3, generator=g, dtype=torch.float64) * 2 - 1
    for levels in (2, 3):
        h = 2.0 / 2 ** (levels + 1)
        k = f"exp(-{alpha_h2 / h**2!r}*(x**2+y**2+z**2))"
        ref = exact_sum(k, p, w, q)
        for order in (2, 3, 4):
            predicted = fc2t2_error(alpha_h2, order, 1200, levels)
            y = FC2T2(k, levels=levels, order=order).expand(p, w)(q)
            assert float((y - ref).norm() / ref.norm()) <= predicted


def test_plan_picks_the_expansion_for_a_wide_kernel_where_it_meets_tol():
    # α·h² = 1/64 at level 5 with 10⁵ or 2·10⁴ points: the former model's sparse-grid factor
    # (×4 … ×6.5) excluded every FC²T² level here although the expansion met tol
    k = "exp(-16*(x**2+y**2+z**2))"
    assert plan(k, 10**5, 10**5, 2e-5).method == "fc2t2"
    g = torch.Generator().manual_seed(8)
    p = torch.rand(1, 20000, 3, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.rand(1, 1, 20000, generator=g, dtype=torch.float64)
    q = torch.rand(20000, 3, generator=g, dtype=torch.float64) * 2 - 1
    y, chosen = fastest_sum(p, w, q, k, 3e-5, return_plan=True)
    assert chosen.method == "fc2t2"
    ref = exact_sum(k, p, w, q[:400])
    assert float((y[..., :400] - ref).norm() / ref.norm()) <= 3e-5
