"""The data-misfit safeguard of learned inversion: a learned update must fit the data as well as
the classical update it replaces, up to the noise level.

A learned layer proposes an update; the classical method it was unrolled from (a steepest-descent
or CG step for LSRTM, a line-searched gradient step for FWI) proposes another from the same model.
The learned one is accepted for a sample only if its data misfit is no larger than the classical
one's, or already at or below the noise level (the discrepancy principle: below the noise, a
smaller misfit means fitting noise, so both count as equal); otherwise the layer takes the
classical update. A network applied to a model unlike anything it was trained on thus falls back
to the classical method instead of inventing structure the data do not support.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from geolearn.errors import ConfigError

__all__ = ["DataSafeguard"]

logger = logging.getLogger("geolearn.learned_inversion.safeguard")


@dataclass(frozen=True)
class DataSafeguard:
    """Accept a learned update only where its data misfit ``≤ max(classical misfit, noise level)``.

    Parameters
    ----------
    noise_level : float
        The data noise, ``≥ 0``: the norm ``‖n‖`` of the noise in one sample's records
        (``relative=False``, in data units), or its ratio ``‖n‖ / ‖d‖`` to the observed records'
        norm (``relative=True``, e.g. 0.01 for 1 % noise). 0: compare the misfits as they are.
    relative : bool
        How ``noise_level`` is given (see above).

    Examples
    --------
    >>> import torch
    >>> guard = DataSafeguard(noise_level=0.1)            # 10 % noise
    >>> guard.accept(torch.tensor([0.5, 0.08, 0.3]), torch.tensor([0.4, 0.05, 0.35]), torch.ones(3))
    tensor([False,  True,  True])
    """

    noise_level: float = 0.0
    relative: bool = True

    def __post_init__(self) -> None:
        if not (isinstance(self.noise_level, (int, float)) and 0 <= float(self.noise_level) < float("inf")):
            raise ConfigError(
                f"noise_level must be a finite number >= 0 (a data-noise norm, relative or absolute), "
                f"got {self.noise_level!r}"
            )
        if not isinstance(self.relative, bool):
            raise ConfigError(f"relative must be True or False, got {self.relative!r}")

    def floor(self, data_norm: torch.Tensor) -> torch.Tensor:
        """Misfit norm at which the data are explained to the noise level, per sample ``(B,)``.

        ``data_norm`` is ``‖d_b‖`` of each sample's observed records ``(B,)``.
        """
        data_norm = data_norm.detach().double()
        if self.relative:
            return float(self.noise_level) * data_norm
        return torch.full_like(data_norm, float(self.noise_level))

    def accept(
        self, learned_misfit: torch.Tensor, classical_misfit: torch.Tensor, data_norm: torch.Tensor
    ) -> torch.Tensor:
        """Boolean ``(B,)``: where the learned update may be kept.

        Parameters
        ----------
        learned_misfit, classical_misfit : Tensor ``(B,)``
            Data-misfit norms ``‖F(m) − d‖`` (or ``‖J x − y‖``) after the learned and after the
            classical update, in data units.
        data_norm : Tensor ``(B,)``
            ``‖d_b‖``, for a relative noise level.
        """
        learned = learned_misfit.detach().double()
        classical = classical_misfit.detach().double()
        if learned.shape != classical.shape or learned.shape != data_norm.shape or learned.ndim != 1:
            raise ConfigError(
                f"misfits and data norms must be equal-length vectors (B,), got {tuple(learned.shape)}, "
                f"{tuple(classical.shape)} and {tuple(data_norm.shape)}"
            )
        accepted = learned <= torch.maximum(classical, self.floor(data_norm))
        rejected = int((~accepted).sum())
        if rejected:
            logger.debug(
                "safeguard: %d of %d learned updates replaced by the classical one", rejected, len(accepted)
            )
        return accepted
