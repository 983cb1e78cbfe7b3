"""Coordinate-network building blocks: encodings, activations and MLP builders.

Fields know nothing of rays, datasets or integrals; engines and applications build on them.
"""

from quadfree.fields.activations import ACTIVATIONS, Sine, Swish, make_activation
from quadfree.fields.encodings import FourierFeatures, IdentityEncoding, PositionalEncoding
from quadfree.fields.mlp import MLP, siren

__all__ = [
    "ACTIVATIONS", "MLP", "FourierFeatures", "IdentityEncoding", "PositionalEncoding",
    "Sine", "Swish", "make_activation", "siren",
]
