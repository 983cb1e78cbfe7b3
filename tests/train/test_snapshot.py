"""The viewer's copy of a training model: own storage, eval mode, copies only when due."""

import time

import pytest
import torch

from quadfree.errors import QuadfreeError
from quadfree.radiance.registry import build_method
from quadfree.train.snapshot import WeightSnapshot

TINY = {"width": 16, "depth": 2, "skips": "", "n_coarse": 4, "n_fine": 4}


def _bump(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.25)


def test_snapshot_owns_its_weights_and_leaves_the_model_alone():
    model, _ = build_method("nerf", TINY)
    model.train()
    rng = torch.get_rng_state()
    snap = WeightSnapshot(model, step=0, every_steps=3, every_seconds=0)
    assert torch.equal(torch.get_rng_state(), rng)           # making the copy draws nothing
    assert model.training and all(p.requires_grad for p in model.parameters())
    copy, step = snap.current()
    assert copy is not model and not copy.training and step == 0
    assert not any(p.requires_grad for p in copy.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _bump(model)
    assert not snap.offer(model, 2)                            # not due: old weights stay
    copy, step = snap.current()
    assert step == 0 and all(torch.equal(copy.state_dict()[k], before[k]) for k in before)
    assert snap.offer(model, 3) and snap.latest == 3
    copy, step = snap.current()
    assert step == 3
    assert all(torch.equal(copy.state_dict()[k], v) for k, v in model.state_dict().items())
    assert all(a.data_ptr() != b.data_ptr()
               for a, b in zip(copy.parameters(), model.parameters(), strict=True))
    assert model.training                                      # still the trainer's mode


def test_snapshot_time_rule_and_force():
    net = torch.nn.Linear(3, 2)
    snap = WeightSnapshot(net, every_steps=0, every_seconds=0.05)
    assert not snap.offer(net, 1)
    time.sleep(0.06)
    assert snap.offer(net, 2) and snap.version == 2
    assert snap.offer(net, 3, force=True) and snap.step == 3


@pytest.mark.parametrize("steps, seconds", [(0, 0.0), (-1, 1.0), (2, -1.0), (2, float("nan"))])
def test_snapshot_rejects_bad_intervals(steps, seconds):
    with pytest.raises(QuadfreeError, match="every_steps"):
        WeightSnapshot(torch.nn.Linear(1, 1), every_steps=steps, every_seconds=seconds)
