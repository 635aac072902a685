"""Typed, frozen settings built from the validated configuration.

The JSON schema (``config/config.schema.yaml``) is the only place a default lives:
:func:`dsa110_contimg.config.validate` fills every default, and :meth:`Settings.from_config`
then turns the complete dict into one frozen dataclass per config section.  Every field
is required here, so a key missing from the schema (or a field missing here) is an error
at load time, not a silent default (``tests/test_settings.py`` keeps the two in sync).

Package functions take the section they need (``Telescope``, ``Imaging``, ...), never the
raw dict.  A variant of a section is made with :func:`dataclasses.replace`.

Units follow the key names: ``_deg`` degrees, ``_rad`` radians, ``_hz`` Hz, ``_jy``/``_mjy``
Jy/mJy, ``_s``/``_h``/``_min`` seconds/hours/minutes, ``_m`` metres, ``_mb`` megabytes.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import typing
from dataclasses import dataclass

from .config import load_config, validate


@dataclass(frozen=True)
class Telescope:
    """Array name, reference position (WGS84 geodetic) and dishes."""

    name: str
    lon_deg: float
    lat_deg: float
    height_m: float
    station_file: str  # "" = the built-in T layout
    dish_diameter_m: float
    mount: str

    @functools.cached_property
    def location(self):
        """The array reference as an astropy ``EarthLocation`` (built once per object)."""
        from .astrometry import location  # astropy import only when a position is needed

        return location(self.lon_deg, self.lat_deg, self.height_m)


@dataclass(frozen=True)
class Conversion:
    writer: str  # auto | monolithic | parallel
    workers: int
    parallel_min_mb: float
    stage_dir: str
    auto_monolithic_max_subbands: int


@dataclass(frozen=True)
class FieldGains:
    """Gains solved on a field group against the catalog sky (calibration.field_gains)."""

    enabled: bool
    model_min_mjy: float  # mJy, catalog flux x peak beam gain
    model_radius_deg: float
    min_model_jy: float  # Jy, sum of flux x mean beam
    phase_solint: str
    amplitude: bool
    amp_solint: str
    minsnr: float
    max_flagged_fraction: float
    max_amp_change: float


@dataclass(frozen=True)
class Calibration:
    catalog: str  # calibrator CSV; "" = the simulator's (demo only)
    min_beam_flux_jy: float
    flagging: str  # aoflagger | casa | none
    aoflagger_strategy: str
    refant: str
    min_unflagged: float
    dead_fraction: float
    minsnr: float
    uvrange: str
    gain_solint: str
    phase_only: bool
    fast: bool
    fast_uvrange: str
    fast_chanbin: int
    fast_timebin: str
    model_radius_deg: float
    model_min_flux_jy: float
    transit_catalog_model: bool
    bp_validity_h: float
    gain_validity_h: float
    field_gains: FieldGains
    gain_fallback_max_age_h: float
    fallback_lookback_groups: int
    age_grades_h: tuple[float, ...]  # fresh, aging, stale limits (h)


@dataclass(frozen=True)
class Imaging:
    backend: str  # tclean | wsclean
    beam_h5: str
    vp_freq_hz: float
    datacolumn: str  # auto | corrected | data
    cell_arcsec: float
    pixels_per_beam: float
    imsize: int
    niter: int
    threshold: str
    deconvolver: str
    nterms: int
    scales: tuple[int, ...]
    robust: float
    nsigma: float
    nsigma_no_mask: float
    wprojplanes: int
    wproj_phase_tol_rad: float
    pblimit: float
    quick: bool
    quick_imsize: int
    quick_niter: int
    seed_min_mjy: float
    drift_pb: bool
    static_beam: bool
    chan_average_mhz: float
    static_beam_min_mjy: float
    static_beam_max_radius_deg: float
    static_beam_edge_fraction: float  # sources this close to the edge (fraction of the half field) are removed
    flat_spectrum: bool
    flat_spectrum_min_mjy: float
    major_gain: float
    selfcal: bool
    selfcal_min_model_mjy: float
    selfcal_min_gain_age_h: float
    clean_mask: str  # catalog | none
    mask_min_mjy: float
    mask_radius_beams: float
    skip_fits: bool
    export_residual: bool
    export_psf: bool


@dataclass(frozen=True)
class SurveyColumns:
    """Per survey: standard column name -> the file's column name."""

    nvss: dict
    vlass: dict
    first: dict


@dataclass(frozen=True)
class SurveyUnits:
    """Per survey: the declared flux unit (jy, mjy, ujy)."""

    nvss: str
    vlass: str
    first: str


@dataclass(frozen=True)
class Catalog:
    nvss: str
    vlass: str
    first: str
    columns: SurveyColumns
    flux_units: SurveyUnits
    match_radius_arcsec: float
    resolved_major_arcsec: float
    goodref_snr_min: float
    goodref_alpha_min: float
    goodref_alpha_max: float
    finalref_snr_min: float
    finalref_ids: tuple[str, ...]


@dataclass(frozen=True)
class Photometry:
    pb_min: float
    box_beams: float
    annulus_beams: tuple[float, ...]
    blend_beams: float
    reference_view: str
    baseline_epochs: int
    min_refs: int
    clip_sigma: float
    weighted_median: bool
    ref_chi2_max: float
    calibrate_errors: bool
    chi2_nu_min: float
    sigma_dev_min: float
    v_min: float
    min_epochs: int
    transit_gap_h: float  # measurements further apart (h) are different transits
    min_snr: float
    n_reference_plots: int


@dataclass(frozen=True)
class SimCalibrator:
    name: str
    ra_deg: float
    flux_jy: float
    alpha: float
    dec_offset_deg: float


@dataclass(frozen=True)
class SimESE:
    enabled: bool
    min_flux_mjy: float
    center_epoch: float
    half_width_epochs: float
    depth: float
    spike: float
    spike_width: float


@dataclass(frozen=True)
class IncompleteGroup:
    epoch: int
    kind: str  # calibrator | science
    index: int
    drop_subbands: tuple[int, ...]


@dataclass(frozen=True)
class Corruptions:
    noise: bool
    delays: bool
    delay_rms_ns: float
    bandpass: bool
    bandpass_amp_rms: float
    bandpass_phase_rms_deg: float
    bandpass_ripple: float
    gains: bool
    gain_amp_var: float
    gain_phase_rate_deg_per_h: float
    flux_scale: bool
    flux_scale_rms: float
    science_drift: bool
    science_drift_rms: float
    dead_antenna: bool
    rfi: bool
    rfi_lines: int
    rfi_line_jy: float
    rfi_impulses: int
    rfi_impulse_jy: float


@dataclass(frozen=True)
class Simulation:
    seed: int
    start_date: str
    n_epochs: int
    pointing_dec_deg: float
    n_active: int
    active_antennas: tuple[int, ...]
    nchan_per_subband: int
    ntimes: int
    integration_s: float
    jitter_s: float
    sefd_jy: float
    calibrator: SimCalibrator
    science_groups_per_epoch: int
    science_offset_min: float
    science_spacing_min: float
    n_field_sources: int
    field_radius_deg: float
    field_flux_mjy: tuple[float, ...]
    field_density_per_deg2: float  # 0: fields around the science groups; > 0: a strip sky
    ese: SimESE
    incomplete_groups: tuple[IncompleteGroup, ...]
    corruptions: Corruptions


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration, one typed section per key of config.yaml."""

    input_dir: str  # "" = simulate the demo observation
    output_dir: str
    start: str
    end: str
    expected_subbands: int
    group_tolerance_s: float
    keep_ms: bool  # False: MS are temporary (deleted once their products exist)
    telescope: Telescope
    conversion: Conversion
    calibration: Calibration
    imaging: Imaging
    catalog: Catalog
    photometry: Photometry
    simulation: Simulation

    @property
    def simulate(self) -> bool:
        """True for the simulated demo (no ``input_dir``): the one place this is decided."""
        return not self.input_dir

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        """Typed settings from a config dict (a copy is validated against the schema, which
        fills every default; the dict itself is not changed)."""
        return _build(cls, validate(copy.deepcopy(config)), "")

    def as_dict(self) -> dict:
        """The configuration as plain JSON-able data (what :func:`~.provenance.config_hash` hashes)."""
        return as_plain(self)


def as_plain(section) -> dict:
    """A settings section (or :class:`Settings`) as plain dicts and lists."""
    return _plain(dataclasses.asdict(section))


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _build(cls, data, where: str):
    """Instantiate dataclass ``cls`` from ``data``; nested dataclasses and tuples recursively."""
    if not isinstance(data, dict):
        raise TypeError(f"settings {where or '<top>'}: expected a mapping, got {type(data).__name__}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in data]
    extra = [k for k in data if k not in names]
    if missing or extra:
        raise KeyError(f"settings {where or '<top>'}: missing {missing} / unknown {extra}; "
                       "validate the config against the schema first (dsa110_contimg.config.validate)")
    return cls(**{n: _value(hints[n], data[n], f"{where}.{n}".lstrip(".")) for n in names})


def _value(hint, val, where: str):
    if dataclasses.is_dataclass(hint):
        return _build(hint, val, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        return tuple(_value(item, v, where) for v in val)
    if hint is dict:
        return dict(val)
    return val


def load_settings(path: str | None = None, overrides: dict | None = None) -> Settings:
    """Read a YAML config (default: config/config.yaml) with dotted ``overrides``; return typed settings."""
    return Settings.from_config(load_config(path, overrides))
