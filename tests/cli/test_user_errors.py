"""Well-typed but invalid values from the command line end as clean user errors (exit 2)."""

import numpy as np
import pytest
import torch

from quadfree.cli.main import build_parser, error_line, main
from quadfree.data.blender import downscale_depth
from quadfree.errors import QuadfreeError
from quadfree.metrics import ssim
from quadfree.radiance.registry import build_method
from quadfree.render.image import render_rays_chunked
from quadfree.render.rays import camera_rays


@pytest.mark.parametrize("override", [{"pos_freqs": -1}, {"density_activation": "nope"}])
def test_invalid_method_config_is_a_user_error(override):
    with pytest.raises(QuadfreeError, match="config"):
        build_method("nerf", override)


def test_zero_chunk_is_a_user_error():
    method, _ = build_method("nerf", {"width": 8, "depth": 1, "n_coarse": 2, "n_fine": 0})
    with pytest.raises(QuadfreeError, match="^chunk 0") as info:    # the parameter, not a flag
        render_rays_chunked(method, camera_rays(2, 2, 2.0, torch.eye(4)), chunk=0)
    assert info.value.param == "chunk"


def test_cli_maps_a_parameter_error_to_its_flag(capsys):
    parser = build_parser()
    err = QuadfreeError("chunk 0: must be >= 1", param="chunk")
    assert error_line("eval", err, parser) == "quadfree eval: error: --chunk 0: must be >= 1"
    plain = QuadfreeError("x.csv: no such file")
    assert error_line("eval", plain, parser) == "quadfree eval: error: x.csv: no such file"


@pytest.mark.parametrize("flag", ["--subsample", "--views"])
def test_tomo_zero_views_exit_2_and_write_nothing(tmp_path, capsys, flag):
    out = tmp_path / "ct"
    code = main(["tomo", "--phantom", "shepp-logan", "--size", "64", flag, "0",
                 "--out", str(out), "--quiet"])
    assert code == 2
    assert f"{flag} 0" in capsys.readouterr().err
    assert not out.exists()


def test_downscaled_depth_keeps_surface_depth_on_outlines():
    depth = np.zeros((4, 4), np.float32)
    depth[:2, :2] = [[3.0, 0.0], [0.0, 5.0]]            # a block half on the surface
    out = downscale_depth(depth, 2)
    assert out.tolist() == [[4.0, 0.0], [0.0, 0.0]]    # mean of 3 and 5, background stays 0


def test_ssim_follows_the_input_dtype():
    x = torch.rand(16, 16, 3, dtype=torch.float32)
    assert ssim(x, x) == pytest.approx(1.0)


def test_bench_autoint_typed_options_errors_name_flags(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "autoint", "--json", str(out), "--iters", "0", "--quiet"]) == 2
    assert "--iters 0: need at least 1 step" in capsys.readouterr().err
    assert main(["bench", "autoint", "--json", str(out), "--eval-views", "2", "--quiet"]) == 2
    assert "--eval-views 2" in capsys.readouterr().err
    assert not out.exists()


def test_blender_errors_name_parameters_and_the_cli_shows_flags(tmp_path):
    from quadfree.data.blender import load_blender

    parser = build_parser(["train"])
    with pytest.raises(QuadfreeError) as err:
        load_blender(tmp_path, downscale=0)
    assert err.value.param == "downscale" and "--" not in str(err.value)
    assert "error: --downscale 0: must be a positive integer" in error_line("train", err.value,
                                                                           parser)
    with pytest.raises(QuadfreeError) as err:
        load_blender(tmp_path, near=6.0, far=2.0)
    assert err.value.param == ("near", "far") and "--" not in str(err.value)
    assert "error: --near 6.0, --far 2.0: need 0 <= near < far" in error_line(
        "train", err.value, parser)
