"""The DSA-110 frequency layout.

16 subbands x 48 native channels of 244.140625 kHz, 1311.39-1498.64 MHz in all.
Frequency DESCENDS in the raw files: sb00 is the highest band and channels descend
within each subband.  Native channel centre k (k = 48*sb + ch) is
``1498.6431884765625 MHz - k * 0.244140625 MHz``.
"""

from __future__ import annotations

import numpy as np

N_SUBBANDS = 16
NATIVE_CHANNELS = 48
NATIVE_WIDTH_HZ = 244_140.625
TOP_FREQ_HZ = 1_498_643_188.4765625
# nominal lower edge of the band (1311.39 MHz, rounded; the simulator's bandpass shapes
# are defined over BAND_LO_HZ..TOP_FREQ_HZ)
BAND_LO_HZ = 1_311_390_000.0


def subband_freqs(sb: int, nchan: int = NATIVE_CHANNELS) -> np.ndarray:
    """Channel centres (Hz, descending) of subband ``sb`` averaged to ``nchan`` channels.

    ``nchan`` must divide 48; each output channel is the mean of 48/nchan native ones.
    """
    if nchan < 1 or NATIVE_CHANNELS % nchan:
        raise ValueError(f"nchan_per_subband={nchan} must divide {NATIVE_CHANNELS}")
    k = NATIVE_CHANNELS * sb + np.arange(NATIVE_CHANNELS)
    native = TOP_FREQ_HZ - k * NATIVE_WIDTH_HZ
    return native.reshape(nchan, -1).mean(axis=1)


def channel_width_hz(nchan: int = NATIVE_CHANNELS) -> float:
    """Channel width (Hz, positive) at ``nchan`` channels per subband; files store it negative."""
    return NATIVE_WIDTH_HZ * NATIVE_CHANNELS / nchan


def all_freqs(nchan: int = NATIVE_CHANNELS) -> np.ndarray:
    """All 16 subbands concatenated in file order (descending), Hz."""
    return np.concatenate([subband_freqs(sb, nchan) for sb in range(N_SUBBANDS)])
