"""A seeded trimodal stand-in for AstroM³'s variable stars: light curve, spectrum, metadata.

AstroM³ (Rizhko & Bloom 2024, "AstroM³: A self-supervised multimodal model for astronomy")
pairs, for each variable star, its photometry (an irregularly sampled light curve), its
spectrum and a row of catalogue metadata. :func:`make_synthetic_astro` draws such triples from
a toy model in plain NumPy, with a structure chosen so that no modality suffices alone.

The six classes are three light-curve families, each with a metal-rich population I member
(young, thin disk) and a metal-poor population II member (old, halo):

=========  =======================  ======  =================  ============
class      family (light curve)     pop.    period (days)      T_eff (K)
=========  =======================  ======  =================  ============
HADS       delta Scuti, sawtooth    I       0.04 - 0.25        6900 - 8600
SXPHE      delta Scuti, sawtooth    II      0.04 - 0.25        6900 - 8600
DCEP       Cepheid, sawtooth        I       1.5 - 30           5300 - 6800
T2CEP      Cepheid, sawtooth        II      1.5 - 30           5300 - 6800
EA_DISK    detached eclipsing       I       0.8 - 8            5700 - 8000
EA_HALO    detached eclipsing       II      0.8 - 8            5700 - 8000
=========  =======================  ======  =================  ============

What each modality confuses, and why:

- **Light curve** tells the three families apart (time scale: hours-long pulsation,
  days-long pulsation, flat with dips) but not the members of a pair: within a family the
  period, amplitude and shape are drawn from the same distribution whatever the population,
  as in the sky, where SX Phe stars are the metal-poor twins of HADS and type II Cepheids were
  long mistaken for classical ones. Confused: HADS-SXPHE, DCEP-T2CEP, EA_DISK-EA_HALO. Only
  the photometric noise, larger for the fainter, farther halo stars, leaks the population.
- **Spectrum** tells the populations apart (metal lines: Ca II H&K, the G band, Mg b, Na D,
  the Ca triplet, scale with ``10 ** [Fe/H]``; type II Cepheids also show shock-driven Halpha
  emission in part of their cycle) but sees the family only through temperature, which the
  families share in part: eclipsing binaries span the temperatures of both pulsator families,
  the spectrum is a snapshot at a random pulsation phase (a pulsator's temperature swings
  with its amplitude), and interstellar reddening mimics a cooler continuum. Confused: each
  eclipsing class with the pulsators of its population, EA_DISK-HADS and EA_DISK-DCEP,
  EA_HALO-SXPHE and EA_HALO-T2CEP.
- **Metadata** (parallax, colour, absolute magnitude, galactic latitude, catalogue amplitude,
  survey) sees the family through luminosity (Cepheids are bright, delta Scuti stars faint,
  eclipsing binaries in between and broad) and the population only through where the star
  is (halo stars lie farther and at higher latitude, yet many overlap the disk's). Partly
  separated: DCEP-T2CEP, by their period-luminosity relations 1.7 mag apart. Confused: the
  eclipsing binaries with the delta Scuti stars (alike in luminosity and colour) and the
  members of the other pairs.

Only together do they name the class: the light curve gives the family, the spectrum the
population. Logistic-regression probes (``benchmarks/astro_probes.py``: n=6000, seed 0, 80/20
stratified split, chance 0.167) score on the test stars:

=============================  ========  ====================================================
probe                          accuracy  most confused pairs
=============================  ========  ====================================================
light curve (10 summaries)     0.617     DCEP-T2CEP, EA_DISK-EA_HALO, HADS-SXPHE
spectrum (raw flux)            0.628     DCEP-EA_DISK, HADS-EA_DISK, SXPHE-EA_HALO
metadata (5 numeric + survey)  0.646     SXPHE-EA_HALO, HADS-EA_DISK, EA_DISK-EA_HALO
all three concatenated         0.977
=============================  ========  ====================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from selfsup.errors import SelfsupError

ASTRO_CLASSES: tuple[str, ...] = ("HADS", "SXPHE", "DCEP", "T2CEP", "EA_DISK", "EA_HALO")

SURVEYS: tuple[str, ...] = ("ASAS-SN", "ATLAS", "ZTF")

# Per family (delta Scuti, Cepheid, eclipsing): period range (days, log-uniform), amplitude or
# primary eclipse depth range (mag), effective temperature range (K).
_PERIOD_RANGE = np.array([[0.04, 0.25], [1.5, 30.0], [0.8, 8.0]])
_AMPLITUDE_RANGE = np.array([[0.3, 0.9], [0.3, 1.1], [0.25, 1.0]])
_TEMPERATURE_RANGE = np.array([[6900.0, 8600.0], [5300.0, 6800.0], [5700.0, 8000.0]])
# Share of a pulsation cycle spent brightening (sawtooth rise), per pulsating family.
_RISE_RANGE = np.array([[0.25, 0.45], [0.12, 0.35]])

# Per survey: photometric noise floor (mag) and the magnitude at which noise reaches 1 mag.
_SURVEY_NOISE = {"ASAS-SN": (0.015, 17.0), "ATLAS": (0.010, 19.0), "ZTF": (0.008, 20.5)}

# Absorption lines (nm) and their depth at solar metallicity and 6000 K (metals) or at the
# Balmer maximum (hydrogen).
_BALMER_LINES = {656.3: 0.55, 486.1: 0.65, 434.0: 0.6, 410.2: 0.55}
_METAL_LINES = {393.4: 0.6, 396.8: 0.5, 430.8: 0.3, 517.3: 0.35, 589.3: 0.3,
                849.8: 0.25, 854.2: 0.3, 866.2: 0.25}
_WAVELENGTH_RANGE = (380.0, 900.0)  # nm, an optical low-resolution spectrograph
_HC_OVER_K = 1.4388e7  # nm K


def make_synthetic_astro(n: int = 6000, seed: int = 0, n_obs: int = 100,
                         n_wave: int = 128) -> dict:
    """Draw ``n`` variable stars, each as a light curve, a spectrum and a metadata row.

    Args:
        n: stars; classes are balanced (sizes differ by at most one). At least 6.
        seed: seeds everything (``np.random.default_rng(seed)``); the same seed gives the same
            arrays.
        n_obs: observations per light curve, at least 10.
        n_wave: pixels of the spectrum over 380-900 nm, at least 16.

    Returns:
        A dict with ``"light_curve"`` float32 ``[n, n_obs, 3]`` (per observation: time in days
        since the survey started, sorted, in two or three seasons with irregular nights and a
        second visit on a quarter of them; magnitude; its error, which grows with magnitude and
        survey), ``"spectrum"`` float32 ``[n, n_wave]`` (flux over ``wavelengths(n_wave)``,
        divided by its mean), ``"metadata"`` a DataFrame of ``n`` rows (numeric ``parallax``
        mas, ``bp_rp`` mag, ``abs_mag`` mag, ``gal_lat`` degrees, ``amplitude`` mag; categorical
        ``survey`` in :data:`SURVEYS`), ``"y"`` int64 ``[n]`` indexing ``"class_names"``
        (:data:`ASTRO_CLASSES`). The module docstring says which classes each modality confuses.

    Example:
        >>> data = make_synthetic_astro(n=600, seed=1)
        >>> data["light_curve"].shape, data["spectrum"].shape, len(data["metadata"])
        ((600, 100, 3), (600, 128), 600)
    """
    n_classes = len(ASTRO_CLASSES)
    if n < n_classes:
        raise SelfsupError(f"make_synthetic_astro needs n >= {n_classes} (one star per class); "
                           f"got n={n}.")
    if n_obs < 10:
        raise SelfsupError(f"make_synthetic_astro needs n_obs >= 10 observations per light "
                           f"curve; got n_obs={n_obs}.")
    if n_wave < 16:
        raise SelfsupError(f"make_synthetic_astro needs n_wave >= 16 spectrum pixels; "
                           f"got n_wave={n_wave}.")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % n_classes)
    family, halo = y // 2, y % 2 == 1
    stars = _draw_stars(rng, family, halo)
    light_curve = _light_curves(rng, stars, family, n_obs)
    spectrum = _spectra(rng, stars, family, halo, n_wave)
    metadata = _metadata(rng, stars)
    return {"light_curve": light_curve, "spectrum": spectrum, "metadata": metadata,
            "y": y.astype(np.int64), "class_names": list(ASTRO_CLASSES)}


def wavelengths(n_wave: int = 128) -> np.ndarray:
    """The spectrum's wavelength grid in nm: ``[n_wave]``, evenly spaced over 380-900 nm."""
    return np.linspace(*_WAVELENGTH_RANGE, n_wave)


def _between(rng: np.random.Generator, ranges: np.ndarray, index: np.ndarray,
             log: bool = False) -> np.ndarray:
    low, high = ranges[index, 0], ranges[index, 1]
    if log:
        return np.exp(rng.uniform(np.log(low), np.log(high)))
    return rng.uniform(low, high)


def _draw_stars(rng: np.random.Generator, family: np.ndarray, halo: np.ndarray) -> dict:
    """The latent parameters of every star, one array each ``[n]``."""
    n = len(family)
    period = _between(rng, _PERIOD_RANGE, family, log=True)
    amplitude = _between(rng, _AMPLITUDE_RANGE, family)
    temperature = _between(rng, _TEMPERATURE_RANGE, family)
    metallicity = np.where(halo, rng.normal(-1.5, 0.4, n), rng.normal(0.0, 0.2, n))
    # Period-luminosity relations (absolute V magnitude): delta Scuti (McNamara 2011), classical
    # Cepheids (Benedict et al. 2007), type II Cepheids about 1.7 mag fainter at equal period;
    # eclipsing binaries: two F/A main-sequence stars, brighter when hotter.
    log_period = np.log10(period)
    abs_mag = np.select(
        [family == 0, (family == 1) & ~halo, family == 1],
        [-2.89 * log_period - 1.31, -2.43 * (log_period - 1) - 4.05,
         -2.43 * (log_period - 1) - 2.35],
        default=3.6 - 1.1 * (temperature - 5700) / 1000,
    ) + rng.normal(0.0, 0.25, n)
    distance_kpc = np.where(halo, np.exp(rng.uniform(np.log(1.0), np.log(12.0), n)),
                            np.exp(rng.uniform(np.log(0.3), np.log(4.0), n)))
    latitude = np.where(halo, np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                        np.clip(rng.normal(0.0, 9.0, n), -90, 90))
    # Dust lies in the thin disk: reddening grows with distance, falls off with latitude.
    reddening = np.minimum(1.5, 0.3 * np.minimum(distance_kpc, 3.0)
                           * np.exp(-np.abs(latitude) / 8.0) * rng.uniform(0.5, 1.5, n))
    apparent_mag = abs_mag + 5 * np.log10(distance_kpc * 100) + 3.1 * reddening
    # Bright stars are in ASAS-SN's catalogue, fainter ones in ATLAS's, the faintest in ZTF's;
    # a fifth land in a random survey's.
    survey = np.digitize(apparent_mag, [12.5, 15.5])
    survey = np.where(rng.random(n) < 0.2, rng.integers(0, len(SURVEYS), n), survey)
    return {"period": period, "amplitude": amplitude, "temperature": temperature,
            "metallicity": metallicity, "abs_mag": abs_mag, "distance_kpc": distance_kpc,
            "latitude": latitude, "reddening": reddening, "apparent_mag": apparent_mag,
            "survey": survey, "rise": _between(rng, _RISE_RANGE, np.minimum(family, 1)),
            "eclipse_width": rng.uniform(0.03, 0.10, n),
            "secondary_depth": rng.uniform(0.1, 0.8, n), "phase0": rng.random(n)}


def _observing_times(rng: np.random.Generator, n: int, n_obs: int) -> np.ndarray:
    """``[n, n_obs]`` sorted times (days): seasons a year apart, random nights within them, a
    random time of night, and a second visit 20 minutes to 2.5 hours later on some nights."""
    n_revisits = n_obs // 4
    n_nights = n_obs - n_revisits
    n_seasons = rng.integers(2, 4, size=(n, 1))
    season_length = rng.uniform(120.0, 240.0, size=(n, 1))
    season = np.floor(rng.random((n, n_nights)) * n_seasons)
    night = np.floor(rng.random((n, n_nights)) * season_length)
    start = rng.uniform(0.0, 100.0, size=(n, 1))
    first = start + 365.25 * season + night + rng.uniform(-0.15, 0.15, (n, n_nights))
    second = first[:, :n_revisits] + rng.uniform(0.015, 0.1, (n, n_revisits))
    return np.sort(np.concatenate([first, second], axis=1), axis=1)


def _light_curves(rng: np.random.Generator, stars: dict, family: np.ndarray,
                  n_obs: int) -> np.ndarray:
    n = len(family)
    times = _observing_times(rng, n, n_obs)
    phase = (times / stars["period"][:, None] + stars["phase0"][:, None]) % 1.0
    rise = stars["rise"][:, None]
    # Sawtooth pulsation: fast brightening over `rise` of the cycle, slow fading after; as a
    # faintness in [0, 1].
    faintness = np.where(phase < rise, 1 - phase / rise, (phase - rise) / (1 - rise))
    pulsation = stars["amplitude"][:, None] * (faintness - 0.5)
    # Detached eclipses: a primary dip at phase 0, a shallower secondary at phase 0.5.
    width = stars["eclipse_width"][:, None]
    to_primary = np.minimum(phase, 1 - phase)
    to_secondary = np.abs(phase - 0.5)
    eclipses = stars["amplitude"][:, None] * (
        np.exp(-0.5 * (to_primary / width) ** 2)
        + stars["secondary_depth"][:, None] * np.exp(-0.5 * (to_secondary / width) ** 2))
    true_mag = stars["apparent_mag"][:, None] + np.where(family[:, None] == 2, eclipses,
                                                         pulsation)
    floor, limit = np.array([_SURVEY_NOISE[s] for s in SURVEYS]).T[:, stars["survey"]]
    error = (floor[:, None] + 10 ** (0.4 * (true_mag - limit[:, None])))
    error = np.clip(error * rng.uniform(0.8, 1.25, error.shape), 0.003, 1.0)
    mag = true_mag + error * rng.standard_normal(error.shape)
    return np.stack([times, mag, error], axis=-1).astype(np.float32)


def _spectra(rng: np.random.Generator, stars: dict, family: np.ndarray, halo: np.ndarray,
             n_wave: int) -> np.ndarray:
    n = len(family)
    wave = wavelengths(n_wave)[None, :]
    # A snapshot at a random phase: a pulsator is hotter near maximum light.
    swing = np.where(family < 2, 0.08 * stars["amplitude"] * rng.uniform(-1, 1, n), 0.0)
    temperature = (stars["temperature"] * (1 + swing))[:, None]
    flux = wave ** -5.0 / np.expm1(_HC_OVER_K / (wave * temperature))
    extinction = 3.1 * stars["reddening"][:, None] * (550.0 / wave) ** 1.3
    flux = flux * 10 ** (-0.4 * extinction)
    # Line width: the instrument's resolution, or a pixel on a coarse grid.
    sigma = max(2.5, 0.6 * (wave[0, 1] - wave[0, 0]))
    balmer = np.exp(-0.5 * ((temperature - 9500.0) / 2500.0) ** 2)
    metals = 10 ** (0.6 * stars["metallicity"][:, None]) * (6000.0 / temperature) ** 3
    for lines, strength in ((_BALMER_LINES, balmer), (_METAL_LINES, metals)):
        for centre, depth in lines.items():
            profile = np.exp(-0.5 * ((wave - centre) / sigma) ** 2)
            flux = flux * (1 - np.minimum(0.95, depth * strength) * profile)
    # Type II Cepheids (W Vir stars): shock-driven Halpha emission in part of the cycle.
    emission = np.where((family == 1) & halo & (rng.random(n) < 0.5), rng.uniform(0.2, 0.8, n),
                        0.0)
    flux = flux * (1 + emission[:, None] * np.exp(-0.5 * ((wave - 656.3) / sigma) ** 2))
    flux = flux / flux.mean(axis=1, keepdims=True)
    signal_to_noise = np.exp(rng.uniform(np.log(10.0), np.log(60.0), (n, 1)))
    flux = flux + rng.standard_normal(flux.shape) / signal_to_noise
    return flux.astype(np.float32)


def _metadata(rng: np.random.Generator, stars: dict) -> pd.DataFrame:
    n = len(stars["period"])
    parallax_error = 0.02 + 0.05 * 10 ** (0.2 * (stars["apparent_mag"] - 15))
    colour = 2.13 * 5040.0 / stars["temperature"] - 1.03 + 1.3 * stars["reddening"]
    return pd.DataFrame({
        "parallax": 1 / stars["distance_kpc"] + parallax_error * rng.standard_normal(n),
        "bp_rp": colour + rng.normal(0.0, 0.03, n),
        "abs_mag": stars["abs_mag"] + rng.normal(0.0, 0.35, n),
        "gal_lat": stars["latitude"],
        "amplitude": stars["amplitude"] * np.exp(rng.normal(0.0, 0.15, n)),
        "survey": pd.Categorical.from_codes(stars["survey"], categories=list(SURVEYS)),
    })


def light_curve_features(light_curve: np.ndarray) -> np.ndarray:
    """Robust summary features of light curves, for supervised probes: ``[n, n_obs, 3]`` ->
    ``[n, 10]``.

    Columns: log amplitude (5th-95th percentile range of magnitude), skewness, excess
    kurtosis, log ratio of scatter to median error, and a structure function: the mean
    absolute magnitude difference of the pairs of observations whose time lag falls in each
    of the bins 0-0.2, 0.2-1, 1-5, 5-30, 30-150 and 150+ days, over the magnitude's standard
    deviation (a lag bin without pairs takes the bin's median over the light curves). The
    structure function carries the time scale without a period search: a Lomb-Scargle grid
    fine enough for a ~500-day baseline and periods down to an hour has ~10^5 frequencies.
    """
    times, mag, error = (light_curve[..., k].astype(np.float64) for k in range(3))
    centred = mag - mag.mean(axis=1, keepdims=True)
    std = centred.std(axis=1) + 1e-9
    low, high = np.percentile(mag, [5, 95], axis=1)
    moments = np.stack([
        np.log(high - low + 1e-6),
        (centred ** 3).mean(axis=1) / std ** 3,
        (centred ** 4).mean(axis=1) / std ** 4 - 3,
        np.log(std / np.median(error, axis=1)),
    ], axis=1)
    first, second = np.triu_indices(mag.shape[1], k=1)
    edges = np.array([0.0, 0.2, 1.0, 5.0, 30.0, 150.0, np.inf])
    structure = np.empty((len(mag), len(edges) - 1))
    for start in range(0, len(mag), 500):  # bounded memory: 500 light curves of pairs at once
        rows = slice(start, start + 500)
        lag = np.abs(times[rows, second] - times[rows, first])
        step = np.abs(mag[rows, second] - mag[rows, first])
        for k in range(len(edges) - 1):
            inside = (lag >= edges[k]) & (lag < edges[k + 1])
            with np.errstate(invalid="ignore"):
                structure[rows, k] = (step * inside).sum(axis=1) / inside.sum(axis=1)
    structure /= std[:, None]
    missing = np.isnan(structure)
    if missing.any():
        structure = np.where(missing, np.nanmedian(structure, axis=0), structure)
    return np.concatenate([moments, structure], axis=1)


def metadata_features(metadata: pd.DataFrame) -> np.ndarray:
    """The metadata as a numeric matrix for supervised probes: the numeric columns, then the
    ``survey`` one-hot, ``[n, 5 + len(SURVEYS)]`` float64."""
    numeric = metadata.drop(columns="survey").to_numpy(dtype=np.float64)
    one_hot = pd.get_dummies(metadata["survey"]).to_numpy(dtype=np.float64)
    return np.concatenate([numeric, one_hot], axis=1)
