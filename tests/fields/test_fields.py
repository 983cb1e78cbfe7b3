"""quadfree.fields: encodings, activations (with their derivatives), MLP tangent and jet passes."""

import math

import pytest
import torch

from quadfree.fields import (
    ACTIVATIONS,
    MLP,
    FourierFeatures,
    IdentityEncoding,
    PositionalEncoding,
    make_activation,
    siren,
)
from quadfree.fields.jets import jet_of, set_partitions

F64 = torch.float64


def test_positional_encoding_values_and_layout():
    enc = PositionalEncoding(2, num_freqs=3)
    x = torch.tensor([[0.5, -1.0]])
    out = enc(x)[0]
    assert enc.out_dim == 2 * (1 + 2 * 3) == out.shape[0]
    assert out[:2].tolist() == [0.5, -1.0]                      # raw input first
    # then sin for frequencies 1, 2, 4 (per coordinate), then cos
    expect_sin = [math.sin(f * v) for f in (1, 2, 4) for v in (0.5, -1.0)]
    expect_cos = [math.cos(f * v) for f in (1, 2, 4) for v in (0.5, -1.0)]
    assert torch.allclose(out[2:], torch.tensor(expect_sin + expect_cos), atol=1e-6)


def test_normalized_encoding_divides_by_frequency():
    enc = PositionalEncoding(1, num_freqs=4, include_input=False, normalized=True)
    x = torch.tensor([[0.3]], dtype=F64)
    out = enc.to(F64)(x)[0]
    freqs = [1.0, 2.0, 4.0, 8.0]
    assert torch.allclose(out[:4], torch.tensor([math.sin(f * 0.3) / f for f in freqs], dtype=F64))
    # derivative of sin(fx)/f is cos(fx): amplitude one at every frequency
    _, tan = enc.jvp(x, torch.ones_like(x))
    assert torch.allclose(tan[0, :4], torch.tensor([math.cos(f * 0.3) for f in freqs], dtype=F64))


@pytest.mark.parametrize("enc", [
    IdentityEncoding(3),
    PositionalEncoding(3, num_freqs=4),
    PositionalEncoding(3, num_freqs=2, include_input=False, normalized=True),
    FourierFeatures(3, num_features=8, sigma=2.0, include_input=True),
])
def test_encoding_jvp_and_jet_match_torch_func(enc):
    enc = enc.to(F64)
    x = torch.rand(6, 3, dtype=F64) * 2 - 1
    v = torch.randn(6, 3, dtype=F64)
    val, tan = enc.jvp(x, v)
    ref_val, ref_tan = torch.func.jvp(enc.forward, (x,), (v,))
    assert torch.allclose(val, ref_val) and torch.allclose(tan, ref_tan, atol=1e-12)
    from quadfree.fields.jets import input_jet
    jet = enc.jet(input_jet(x, (2, 0, 1)))
    assert torch.allclose(jet, jet_of(enc.forward, x, (2, 0, 1)), atol=1e-10)


def test_fourier_features_are_reproducible_and_scaled():
    a, b = FourierFeatures(2, 256, sigma=5.0, seed=3), FourierFeatures(2, 256, sigma=5.0, seed=3)
    assert torch.equal(a.B, b.B)
    assert 4.0 < float(a.B.std()) < 6.0
    assert a.out_dim == 512


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives_match_autograd(name):
    act = make_activation(name, w0=3.0) if name == "sine" else make_activation(name)
    u = torch.linspace(-2.5, 2.5, 41, dtype=F64) + 0.013        # avoid ReLU's kink at 0
    ds = act.derivatives(u, 3)
    assert len(ds) == 4
    assert torch.allclose(ds[0], act(u))
    value, slope = act.value_and_derivative(u)
    assert torch.allclose(value, ds[0]) and torch.allclose(slope, ds[1])
    fn = act.forward
    for n in (1, 2, 3):
        prev = fn

        def fn(t, prev=prev):
            return torch.func.jvp(prev, (t,), (torch.ones_like(t),))[1]
        assert torch.allclose(ds[n], fn(u), atol=1e-9), f"{name} derivative {n}"


def test_sine_and_unknown_activation():
    assert make_activation("sine", w0=2.0).w0 == 2.0
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("gelu")


def test_siren_initialization_bounds():
    net = siren(2, 1, hidden=64, depth=3, w0=30.0)
    first, second = net.layers[0].weight, net.layers[1].weight
    assert float(first.abs().max()) <= 1 / 2
    assert float(second.abs().max()) <= math.sqrt(6 / 64) / 30 + 1e-9
    assert float(second.abs().max()) > 0.8 * math.sqrt(6 / 64) / 30      # uses the range


def test_mlp_skips_and_validation():
    net = MLP(3, 2, hidden=16, depth=4, activation="swish", skips=(2,),
              encoding=PositionalEncoding(3, 2))
    assert net.layers[2].in_features == 16 + net.encoding.out_dim
    assert net(torch.rand(5, 3)).shape == (5, 2)
    with pytest.raises(ValueError, match="skips"):
        MLP(3, 1, depth=2, skips=(0,))
    with pytest.raises(ValueError, match="depth"):
        MLP(3, 1, depth=0)


@pytest.mark.parametrize("act", ["sine", "swish", "tanh", "softplus"])
def test_tangent_pass_matches_torch_func_jvp(act):
    torch.manual_seed(0)
    net = MLP(3, 2, hidden=24, depth=3, activation=act, skips=(2,), w0=5.0,
              encoding=PositionalEncoding(3, 3, normalized=True),
              out_activation="softplus").to(F64)
    x = torch.rand(9, 3, dtype=F64)
    v = torch.randn(9, 3, dtype=F64)
    y, dy = net.forward_with_tangent(x, v)
    ry, rdy = torch.func.jvp(net.forward, (x,), (v,))
    assert torch.allclose(y, ry) and torch.allclose(dy, rdy, atol=1e-10)


@pytest.mark.parametrize("axes", [(1,), (0, 2), (2, 0, 1)])
def test_jet_pass_matches_nested_forward_mode(axes):
    torch.manual_seed(1)
    net = MLP(3, 1, hidden=16, depth=3, activation="swish", skips=(1,),
              encoding=FourierFeatures(3, 4, sigma=1.0, include_input=True)).to(F64)
    x = torch.rand(5, 3, dtype=F64)
    assert torch.allclose(net.forward_jet(x, axes), jet_of(net.forward, x, axes), atol=1e-10)


def test_set_partitions_are_bell_numbers():
    assert [len(set_partitions((1 << n) - 1)) for n in range(5)] == [1, 1, 2, 5, 15]
    for parts in set_partitions(0b1011):
        union = 0
        for block in parts:
            assert block and union & block == 0
            union |= block
        assert union == 0b1011
