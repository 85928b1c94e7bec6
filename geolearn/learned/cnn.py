"""The small CNN both learned inversions use: 3×3 convolutions whose last layer starts at zero."""

from __future__ import annotations

import torch
from torch import nn

from geolearn.errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU}


def zero_output_cnn(
    in_channels: int,
    features: int,
    depth: int,
    activation: str,
    seed: int,
    dtype: torch.dtype,
    *,
    out_channels: int = 1,
) -> nn.Sequential:
    """``depth`` 3×3 convolutions ``in_channels → features → … → out_channels`` with ``activation`` between.

    Maps ``(B, in_channels, nx, nz)`` to ``(B, out_channels, nx, nz)`` (zero padding keeps the
    grid). Weights are He-uniform from a generator seeded with ``seed``, biases zero, and the last
    convolution zero, so an untrained network outputs zero: a learned correction starts as no
    correction (and memory channels start empty).
    """
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    if depth < 2 or features < 1 or in_channels < 1 or out_channels < 1:
        raise ConfigError(
            f"need depth >= 2 and features, in_channels, out_channels >= 1; got depth={depth}, "
            f"features={features}, in_channels={in_channels}, out_channels={out_channels}"
        )
    gen = torch.Generator().manual_seed(seed)
    sizes = [in_channels] + [features] * (depth - 1) + [out_channels]
    layers: list[nn.Module] = []
    for i in range(depth):
        conv = nn.Conv2d(sizes[i], sizes[i + 1], 3, padding=1, dtype=dtype)
        with torch.no_grad():
            bound = (6.0 / (9 * sizes[i])) ** 0.5
            conv.weight.copy_((torch.rand(conv.weight.shape, generator=gen, dtype=dtype) * 2 - 1) * bound)
            conv.bias.zero_()
            if i == depth - 1:
                conv.weight.zero_()
        layers.append(conv)
        if i < depth - 1:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)
