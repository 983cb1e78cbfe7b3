"""AutoInt sinogram model: an integral network Φ(ρ, θ, t) whose t-derivative is the image.

The grad network ``∂Φ/∂t`` is fitted so that ``chord · mean_k ∂Φ/∂t(ρ, θ, t_k)`` matches each
measured projection (stratified ``t_k`` on the chord); afterwards a projection at *any* angle
costs two evaluations, ``Φ(ρ, θ, t_max) − Φ(ρ, θ, t_min)``.

Φ sees a line through :class:`RayEncoding`: the image-plane point ``(X, Y)`` of ``(ρ, θ, t)``
(positional encoding) and the direction of the line (cos θ, sin θ and a few harmonics). The
integrand ∂Φ/∂t at the same point from different angles is therefore computed from the same
features, which is what lets the model fill in angles it never saw.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from quadfree.autoint import AutoInt, segment_integral
from quadfree.fields import MLP, PositionalEncoding
from quadfree.tomo.geometry import chord_half_length, detector_positions, line_points, radius


class RayEncoding(nn.Module):
    """Encode a line point ``(ρ, θ, t)`` (θ in radians) for the integral network.

    Features: ``γ(X, Y)``, AutoInt's normalised positional encoding of the image point of
    the line at t (``num_freqs`` octaves); ``γ(ρ)`` and ``γ(t)`` (``rho_freqs``,
    ``t_freqs`` octaves, 0 leaves the raw coordinate); and ``cos kθ, sin kθ`` for
    ``k = 1..angle_freqs``. ``jvp`` gives the forward-mode derivative the grad network uses.

    Shapes: ``(..., 3) -> (..., out_dim)``.

    Example:
        >>> enc = RayEncoding(num_freqs=6, angle_freqs=2, rho_freqs=0, t_freqs=0)
        >>> enc.out_dim, enc(torch.zeros(5, 3)).shape
        (32, torch.Size([5, 32]))
    """

    def __init__(self, num_freqs: int = 8, angle_freqs: int = 2, rho_freqs: int = 0,
                 t_freqs: int = 0) -> None:
        super().__init__()
        self.position = PositionalEncoding(2, num_freqs, include_input=True, normalized=True)
        self.rho = PositionalEncoding(1, rho_freqs, include_input=True, normalized=True)
        self.t = PositionalEncoding(1, t_freqs, include_input=True, normalized=True)
        self.angle_freqs = angle_freqs
        self.register_buffer("harmonics", torch.arange(1, angle_freqs + 1, dtype=torch.float32),
                             persistent=False)
        self.out_dim = (self.position.out_dim + self.rho.out_dim + self.t.out_dim
                        + 2 * angle_freqs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.jvp(x, torch.zeros_like(x))[0]

    def jvp(self, x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rho, theta, t = x.unbind(-1)
        vr, vth, vt = v.unbind(-1)
        X, Y = line_points(rho, theta, t)
        c, s = torch.cos(theta), torch.sin(theta)
        dX = c * vr + s * vt + Y * vth
        dY = -s * vr + c * vt - X * vth
        pos, dpos = self.position.jvp(torch.stack([X, Y], -1), torch.stack([dX, dY], -1))
        er, der = self.rho.jvp(rho[..., None], vr[..., None])
        et, det = self.t.jvp(t[..., None], vt[..., None])
        k = self.harmonics.to(x.dtype)
        kt, dkt = theta[..., None] * k, vth[..., None] * k
        ck, sk = torch.cos(kt), torch.sin(kt)
        return (torch.cat([pos, er, et, ck, sk], -1),
                torch.cat([dpos, der, det, -sk * dkt, ck * dkt], -1))


def build_phi(activation: str = "swish", hidden: int = 128, depth: int = 4,
              num_freqs: int = 8, angle_freqs: int = 2, rho_freqs: int = 0,
              t_freqs: int = 0) -> MLP:
    """The integral network Φ: ``RayEncoding → MLP(hidden × depth, activation) → 1``.

    For ``activation="sine"`` SIREN initialisation is used with ``w0 = 30`` in hidden layers
    and ``first_w0 = 1`` (the encoding already carries the high frequencies).

    Shapes: ``(..., 3) -> (..., 1)``.

    Example:
        >>> build_phi("tanh", hidden=16, depth=2)(torch.zeros(4, 3)).shape
        torch.Size([4, 1])
    """
    enc = RayEncoding(num_freqs, angle_freqs, rho_freqs, t_freqs)
    if activation == "sine":
        return MLP(3, 1, hidden=hidden, depth=depth, activation="sine", encoding=enc,
                   w0=30.0, first_w0=1.0)
    return MLP(3, 1, hidden=hidden, depth=depth, activation=activation, encoding=enc)


class SinogramModel(AutoInt):
    """An :class:`~quadfree.autoint.AutoInt` over ``(ρ, θ, t)`` differentiated along t.

    Values are normalised: the grad network approximates image intensities, so a projection
    in scikit-image's pixel units is ``R · (Φ(t_max) − Φ(t_min))`` with ``R = size // 2``.

    Args:
        size: image side N (the sinogram has N detector rows).
        phi: the integral network; :func:`build_phi` by default.
        scale: intensity scale; targets are divided by it during training (e.g. the image
            maximum) so that the network works with values of order one.

    Example:
        >>> model = SinogramModel(16, build_phi("swish", hidden=16, depth=2))
        >>> model.sinogram([0.0, 90.0]).shape
        (16, 2)
    """

    def __init__(self, size: int, phi: nn.Module | None = None, scale: float = 1.0) -> None:
        super().__init__(phi if phi is not None else build_phi(), axes=2)
        self.size = int(size)
        self.scale = float(scale)
        #: the exact angles (degrees) of the views the model was last fitted to
        self.train_angles: np.ndarray | None = None

    @property
    def radius(self) -> int:
        return radius(self.size)

    def chords(self, angles_deg) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end points ``(ρ, θ, t_min)``, ``(ρ, θ, t_max)`` of every sinogram line.

        Shapes: angles ``(A,)`` → two ``(N·A, 3)`` tensors, detector-major (row j, column i
        at index ``j·A + i``).
        """
        rho = detector_positions(self.size)
        theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
        R, T = np.meshgrid(rho, theta, indexing="ij")
        half = chord_half_length(R)
        param = next(self.phi.parameters())
        start = np.stack([R, T, -half], -1).reshape(-1, 3)
        end = np.stack([R, T, half], -1).reshape(-1, 3)
        as_t = lambda a: torch.as_tensor(a, dtype=param.dtype, device=param.device)  # noqa: E731
        return as_t(start), as_t(end)

    @torch.no_grad()
    def sinogram(self, angles_deg, chunk_size: int = 1 << 15) -> np.ndarray:
        """The sinogram at any angles (degrees) from two evaluations of Φ per line.

        Shapes: angles ``(A,)`` → ``(N, A)`` numpy array in scikit-image's units.
        """
        a, b = self.chords(angles_deg)
        vals = segment_integral(self.phi, a, b, chunk_size)[:, 0]
        sino = vals.reshape(self.size, -1).double().cpu().numpy()
        return sino * self.radius * self.scale

    def integrand(self, rho: torch.Tensor, theta_rad: torch.Tensor, t: torch.Tensor
                  ) -> torch.Tensor:
        """The grad network ∂Φ/∂t at ``(ρ, θ, t)`` (normalised image intensity).

        Shapes: three broadcastable tensors → that shape.
        """
        x = torch.stack(torch.broadcast_tensors(rho, theta_rad, t), -1)
        return self.grad(x)[..., 0]

    @torch.no_grad()
    def image(self, angle_deg: float = 0.0) -> np.ndarray:
        """The integrand seen along lines at one angle, as an ``N×N`` image (zero outside the
        circle). Because Φ depends on θ, different angles give (slightly) different images.
        """
        n, r = self.size, self.radius
        coords = (np.arange(n) - r) / r
        Yg, Xg = np.meshgrid(coords, coords, indexing="ij")
        th = math.radians(angle_deg)
        c, s = math.cos(th), math.sin(th)
        rho, t = c * Xg - s * Yg, s * Xg + c * Yg
        param = next(self.phi.parameters())
        as_t = lambda a: torch.as_tensor(a, dtype=param.dtype, device=param.device)  # noqa: E731
        out = self.integrand(as_t(rho), as_t(np.full_like(rho, th)), as_t(t))
        img = out.double().cpu().numpy() * self.scale
        return np.where(Xg ** 2 + Yg ** 2 <= 1.0, img, 0.0)
