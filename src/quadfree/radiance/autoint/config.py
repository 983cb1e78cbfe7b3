"""AutoInt radiance-field settings: the CPU defaults and the published configuration."""

from __future__ import annotations

from dataclasses import dataclass

SIGMA_DIRECTIONS = ("encoded", "raw")
SAMPLERS = ("learned", "uniform")
TRAIN_PATHS = ("integral", "grad")
# Config keys added after the first release, with the behaviour runs saved before them had.
SAVED_BEFORE = {"train_path": "grad", "normalized_encoding": True, "sampler_freqs": 4}


@dataclass
class Config:
    """AutoInt radiance-field settings (defaults sized for a 2-core CPU at 64×64).

    The CPU defaults match the CPU NeRF where they can (width 64, 8 position octaves) and use
    one shared integral network (half the evaluations of two networks); the published model
    is :func:`paper_config`.

    Attributes:
        sections: N, sections per ray. 8 is the one default of every command (``train``,
            ``demo``, ``bench autoint``'s first row): the speed headline; 16 and 32 are the
            other tested values (the published model uses 32, see :func:`paper_config`).
        samples_per_section: K, grad-network samples per section when ``train_path="grad"``
            (unused by the integral path).
        hidden, depth: width and number of hidden layers of each integral network.
        activation: a smooth activation name (``swish`` as published, or ``sine``).
        pos_freqs, dir_freqs: positional-encoding octaves for the point and the direction.
        sigma_direction: ``"encoded"`` (published) or ``"raw"`` direction input of Φσ.
        shared: one integral network with four outputs (σ, rgb) instead of two networks;
            halves inference evaluations (``sigma_direction`` is then ``"encoded"``).
        sampler: ``"learned"`` (sampling network) or ``"uniform"`` sections.
        sampler_hidden, sampler_depth, sampler_freqs: the sampling network's size and
            encoding octaves.
        train_path: ``"integral"`` (loss on the exact section integrals, as rendered at
            inference) or ``"grad"`` (published: K jittered grad-network samples per section).
        normalized_encoding: AutoInt's normalised position encoding ``sin(f·x)/f`` (published)
            instead of NeRF's ``sin(f·x)``; the plain one trains sharper fields through the
            integral path (measurements: ``docs/autoint.md``).
        consistency_weight: weight of the view-consistency penalty (0 = off, as published).
        consistency_points: sample points per batch that the penalty re-evaluates.
        consistency_length: the penalty compares opacities ``1 − exp(−σ·length)`` of this
            short segment (scale-free, in [0, 1]) rather than raw densities.
        sigma_scale: constant factor on Φσ (lets densities of tens be reached with O(1) weights).
        density_activation: ``relu`` (published) or ``softplus`` on the section-mean density.
        white_background: composite on white (Blender convention).
    """

    sections: int = 8
    samples_per_section: int = 2
    hidden: int = 64
    depth: int = 4
    activation: str = "swish"
    pos_freqs: int = 8
    dir_freqs: int = 4
    sigma_direction: str = "encoded"
    shared: bool = True
    sampler: str = "learned"
    sampler_hidden: int = 64
    sampler_depth: int = 2
    sampler_freqs: int = 4
    train_path: str = "integral"
    normalized_encoding: bool = False
    consistency_weight: float = 0.0
    consistency_points: int = 512
    consistency_length: float = 0.05
    sigma_scale: float = 10.0
    density_activation: str = "relu"
    white_background: bool = True


def paper_config() -> Config:
    """The published AutoInt volume-rendering configuration: separate σ and colour networks of
    8×256 swish layers, normalised 10/4-octave encodings, a sampling network, and training on
    32 sections × 4 grad samples.

    Example:
        >>> c = paper_config(); c.hidden, c.sections * c.samples_per_section, c.shared
        (256, 128, False)
    """
    return Config(sections=32, samples_per_section=4, hidden=256, depth=8, pos_freqs=10,
                  dir_freqs=4, shared=False, sampler="learned", train_path="grad",
                  normalized_encoding=True)
