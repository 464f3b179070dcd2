"""Multi-device wearable data: the built-in synthetic ``synthetic_har`` set.

ColloSSL (Jain et al. 2022) learns from D time-synchronised body-worn devices. The public
multi-device HAR sets (RealWorld, Opportunity, PAMAP2) do not ship with any installed package and
nothing is downloaded at run time, so the library generates a realistic one from a small
physical model of walking, running, stair climbing, sitting, standing and lying.

What a window holds
-------------------
``x [N, D, T, C]`` float32: D = 5 accelerometers (``meta["devices"]`` = wrist, chest, waist,
thigh, ankle), T = 64 samples at 20 Hz (3.2 s), C = 3 axes, in units of g; labels int64 ``[N]``
(``class_names`` = the six activities). All devices of a window record the SAME moment.

The model (per window, per body part; all angles in radians)
-------------------------------------------------------------
* **Gait** (walking, running, stairs): the step frequency ``f`` (1.9, 2.8, 1.6 Hz, times the
  subject's cadence, ±5 % per window) drives a vertical bounce at ``f`` with a second harmonic
  (stairs: the strongest, an asymmetric up-step), a swing of the part's pitch at the stride
  frequency ``f / 2`` (arms opposite to legs), a forward acceleration and a lateral sway.
  Amplitudes depend on the part: the ankle moves most, the chest least; running is about
  2.5 times walking. The torso leans forward on stairs and when running.
* **Postures** (sitting, standing, lying): a static orientation of each part relative to
  gravity (the thigh is horizontal when sitting; everything is when lying, rolled on the back
  or on a side), small fidgeting, and — at the wrist — free arm positions and occasional
  gestures, so the wrist alone separates postures poorly (as on real data).
* **Devices**: each part's reading (gravity + linear acceleration rotated into the part's
  frame) is seen through the device's own mounting rotation (a random rotation per device
  plus ~8° per subject), gain (±5 %), bias (0.02 g) and noise (0.02–0.05 g).
* **Subjects**: 12, with their own cadence (±15 %), vigour (±20 %) and postures; subjects
  9–11 are the test split (an official, fixed split BY SUBJECT, so no subject's motion leaks
  from train to test; ``meta["subject_train"]``/``["subject_test"]`` hold the subject ids).

Parts that are close on the body move alike (chest and waist; thigh and ankle), so a
distribution distance between devices (ColloSSL's MMD) has real structure to find.

Options: ``n`` windows in all (split evenly over subjects and activities), ``data_seed`` (the
generated data; fixed at 0 so the set is the same for every training seed — the ``seed`` that
every built-in receives is the run's seed and does not change the data), ``device`` (a name
from ``meta["devices"]``: a single-device bundle ``[N, T, C]``, for single-device baselines and
for evaluating on ColloSSL's anchor device).
"""

from __future__ import annotations

import numpy as np
import torch

from selfsup.data.base import DataBundle
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.data.source import SeriesSource, series_source
from selfsup.registry import DATASETS

__all__ = ["ACTIVITIES", "DEVICES", "synthetic_har"]

DEVICES = ("wrist", "chest", "waist", "thigh", "ankle")
ACTIVITIES = ("walking", "running", "stairs", "sitting", "standing", "lying")
SAMPLE_RATE_HZ = 20.0
WINDOW = 64
NUM_SUBJECTS = 12
TEST_SUBJECTS = (9, 10, 11)
DEFAULT_N = 3600

# Gait tables, rows = walking, running, stairs; columns = DEVICES order.
_STEP_HZ = np.array([1.9, 2.8, 1.6])
_BOUNCE_G = np.array([  # vertical acceleration at the step frequency
    [0.15, 0.22, 0.26, 0.45, 0.90],
    [0.50, 0.85, 0.95, 1.30, 2.20],
    [0.12, 0.32, 0.36, 0.60, 1.00],
])
_SWING_RAD = np.array([  # pitch swing at the stride frequency
    [0.45, 0.03, 0.04, 0.40, 0.60],
    [0.90, 0.06, 0.07, 0.75, 1.00],
    [0.30, 0.05, 0.06, 0.70, 0.80],
])
_HARMONIC = np.array([0.3, 0.5, 0.8])  # second-harmonic share of the bounce
_LEAN_RAD = np.array([0.05, 0.15, 0.20])  # torso forward lean
_LAG_RAD = np.array([np.pi, 0.2, 0.1, 0.0, -0.5])  # arm swings opposite to the leg
_FORWARD = np.array([1.5, 0.2, 0.2, 0.5, 0.6])  # forward acceleration / bounce
_NOISE_G = np.array([0.03, 0.02, 0.02, 0.03, 0.05])
_TORSO = np.array([False, True, True, False, False])

# Posture tables (degrees): mean and std of the pitch of each part, rows = sitting, standing.
_POSTURE_PITCH = np.array([[15.0, 20.0, 88.0, 20.0], [3.0, 2.0, 2.0, 2.0]])  # chest..ankle
_POSTURE_SD = np.array([[8.0, 8.0, 6.0, 12.0], [3.0, 3.0, 4.0, 4.0]])
_WRIST_PITCH_RANGE = np.array([[20.0, 100.0], [-10.0, 45.0]])


@DATASETS.register(
    "synthetic_har",
    modality="timeseries",
    description=(
        "synthetic multi-device HAR: 5 body-worn accelerometers [N, 5, 64, 3] at 20 Hz, 6 "
        "activities, 12 subjects, fixed split by subject (9 train / 3 test); device=NAME for one"
    ),
    n=DEFAULT_N,
)
def synthetic_har(
    seed: int = 0,
    test_fraction: float = 0.2,
    n: int = DEFAULT_N,
    data_seed: int = 0,
    device: str | None = None,
) -> SeriesSource:
    """Synthetic multi-device human-activity windows (see the module docstring for the model).

    Args:
        seed: the run's seed, accepted for the uniform signature of built-ins; it does NOT
            change the data (use ``data_seed``), so every training seed sees the same set.
        test_fraction: accepted for the uniform signature; the split is fixed by subject.
        n: number of windows in all, spread evenly over the 12 subjects and 6 activities
            (at least 72).
        data_seed: seed of the generator; the same value gives bit-identical data.
        device: one of ``DEVICES`` for a single-device bundle ``x [N, T, C]``; None for all
            devices ``x [N, D, T, C]``.

    Returns:
        A DataBundle (modality ``"timeseries"``) with the fixed split by subject.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < NUM_SUBJECTS * len(ACTIVITIES):
        raise SelfsupError(
            f"Option n of synthetic_har must be an int >= {NUM_SUBJECTS * len(ACTIVITIES)} "
            f"(one window per subject and activity); got {n!r}."
        )
    if device is not None and device not in DEVICES:
        raise SelfsupError(
            f"Option device of synthetic_har must be one of {', '.join(DEVICES)} "
            f"(or left out for all devices); got {device!r}."
        )
    x, y, subject = _generate(n, int(data_seed))
    test = np.isin(subject, TEST_SUBJECTS)
    x_t = torch.from_numpy(x)
    if device is not None:
        x_t = x_t[:, DEVICES.index(device)].contiguous()
        meta = {"device": device}
        name = f"synthetic_har[{device}]"
    else:
        meta = {"devices": list(DEVICES)}
        name = "synthetic_har"
    meta.update(
        sample_rate_hz=SAMPLE_RATE_HZ,
        subject_train=torch.from_numpy(subject[~test]),
        subject_test=torch.from_numpy(subject[test]),
    )
    y_t = torch.from_numpy(y)
    train_rows = torch.from_numpy(np.flatnonzero(~test))
    test_rows = torch.from_numpy(np.flatnonzero(test))
    return series_source(DataBundle(
        name,
        "timeseries",
        x_t[train_rows].contiguous(),
        y_t[train_rows],
        x_t[test_rows].contiguous(),
        y_t[test_rows],
        class_names=list(ACTIVITIES),
        notes=[],
        meta=meta,
        source_index=torch.cat([train_rows, test_rows]),
    ))


# --------------------------------------------------------------------------- generator


def _generate(n: int, data_seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x [n, D, T, 3]`` float32, activity ``[n]`` and subject ``[n]`` int64 labels."""
    rng = np.random.default_rng(data_seed)
    num_parts, num_activities = len(DEVICES), len(ACTIVITIES)
    # Every (subject, activity) cell gets n // cells windows; the remainder goes to the first cells.
    cells = NUM_SUBJECTS * num_activities
    per_cell = np.full(cells, n // cells)
    per_cell[: n % cells] += 1
    cell = np.repeat(np.arange(cells), per_cell)
    subject, activity = cell // num_activities, cell % num_activities

    # Subjects: cadence, vigour, how each device sits on them (mounting, gain, bias).
    cadence = rng.uniform(0.85, 1.15, NUM_SUBJECTS)[subject]
    vigour = rng.uniform(0.8, 1.2, NUM_SUBJECTS)[subject]
    device_mount = _random_rotations(rng, num_parts)  # [P, 3, 3], the device's orientation
    jitter = _small_rotations(rng, (NUM_SUBJECTS, num_parts), np.deg2rad(8.0))
    mount = np.einsum("spij,pjk->spik", jitter, device_mount)[subject]  # [n, P, 3, 3]
    gain = rng.uniform(0.95, 1.05, (NUM_SUBJECTS, num_parts))[subject]
    bias = rng.normal(0.0, 0.02, (NUM_SUBJECTS, num_parts, 3))[subject]
    posture_offset = rng.normal(0.0, 5.0, (NUM_SUBJECTS, num_parts))[subject]  # degrees

    t = np.arange(WINDOW) / SAMPLE_RATE_HZ  # [T]
    pitch = np.zeros((n, num_parts, WINDOW))
    twist = rng.normal(0.0, 0.15, (n, num_parts))
    twist[:, 0] = rng.normal(0.0, 0.4, n)  # a watch turns around the forearm
    linear = np.zeros((n, num_parts, WINDOW, 3))  # world frame: x forward, y left, z up

    gait = activity < 3
    if gait.any():
        k = activity[gait]
        m = int(gait.sum())
        f = _STEP_HZ[k] * cadence[gait] * rng.uniform(0.95, 1.05, m)  # [m]
        amp = vigour[gait] * rng.uniform(0.85, 1.15, m)
        phase = rng.uniform(0.0, 2 * np.pi, m)
        shape_phase = rng.uniform(-0.3, 0.3, m)
        stride = np.pi * f[:, None, None] * t + phase[:, None, None] + _LAG_RAD[None, :, None]
        step = 2 * stride
        bounce = _BOUNCE_G[k][:, :, None] * amp[:, None, None]  # [m, P, 1]
        vertical = bounce * (np.sin(step) + _HARMONIC[k][:, None, None] * np.sin(2 * step + shape_phase[:, None, None]))
        forward = _FORWARD[None, :, None] * bounce * np.cos(stride)
        lateral = 0.1 * bounce * np.sin(stride - _LAG_RAD[None, :, None])
        linear[gait] = np.stack([forward, lateral, vertical], axis=-1)
        swing = _SWING_RAD[k][:, :, None] * amp[:, None, None] * np.sin(stride)
        lean = np.where(_TORSO[None, :], _LEAN_RAD[k][:, None], 0.0)[:, :, None]
        pitch[gait] = swing + lean + np.deg2rad(posture_offset[gait])[:, :, None] * 0.3

    for row, name in ((0, "sitting"), (1, "standing")):
        rows = activity == ACTIVITIES.index(name)
        m = int(rows.sum())
        if not m:
            continue
        body = _POSTURE_PITCH[row] + posture_offset[rows][:, 1:] + rng.normal(0.0, 1.0, (m, 4)) * _POSTURE_SD[row]
        low, high = _WRIST_PITCH_RANGE[row]
        wrist = rng.uniform(low, high, m)
        pitch[rows] = np.deg2rad(np.concatenate([wrist[:, None], body], axis=1))[:, :, None]
        linear[rows] = _fidget(rng, m, t)

    rows = activity == ACTIVITIES.index("lying")
    m = int(rows.sum())
    if m:
        side = rng.choice(np.deg2rad([0.0, 90.0, -90.0]), m)  # on the back or on a side
        body = np.deg2rad(90.0 + posture_offset[rows][:, 1:] + rng.normal(0.0, 5.0, (m, 4)))
        wrist = rng.uniform(0.0, np.pi, m)
        pitch[rows] = np.concatenate([wrist[:, None], body], axis=1)[:, :, None]
        twist[rows, 1:] += side[:, None] + rng.normal(0.0, np.deg2rad(8.0), (m, 4))
        twist[rows, 0] = rng.uniform(-np.pi / 2, np.pi / 2, m)
        linear[rows] = _fidget(rng, m, t)

    # What each part feels (gravity reaction + linear acceleration), in the part's frame:
    # rotate the world vector by the part's pitch (about y) and twist (about its long axis z).
    world = linear.copy()
    world[..., 2] += 1.0
    c, s = np.cos(pitch), np.sin(pitch)
    ax = c * world[..., 0] - s * world[..., 2]
    az = s * world[..., 0] + c * world[..., 2]
    ay = world[..., 1]
    cz, sz = np.cos(twist)[:, :, None], np.sin(twist)[:, :, None]
    part = np.stack([cz * ax + sz * ay, -sz * ax + cz * ay, az], axis=-1)  # [n, P, T, 3]
    # ... then through each device's mounting, gain, bias and noise.
    reading = np.einsum("npij,npti->nptj", mount, part) * gain[:, :, None, None]
    reading += bias[:, :, None, :]
    reading += rng.normal(0.0, 1.0, reading.shape) * _NOISE_G[None, :, None, None]
    return reading.astype(np.float32), activity.astype(np.int64), subject.astype(np.int64)


def _fidget(rng: np.random.Generator, m: int, t: np.ndarray) -> np.ndarray:
    """Small slow movements of a person at rest ``[m, P, T, 3]``; larger gestures at the wrist."""
    num_parts = len(DEVICES)
    freq = rng.uniform(0.2, 1.0, (m, num_parts, 1, 3))
    phase = rng.uniform(0.0, 2 * np.pi, (m, num_parts, 1, 3))
    amplitude = np.full((m, num_parts, 1, 1), 0.02)
    gesture = rng.random(m) < 0.4
    amplitude[gesture, 0] = rng.uniform(0.05, 0.25, (int(gesture.sum()), 1, 1))
    freq[gesture, 0] = rng.uniform(0.5, 1.5, (int(gesture.sum()), 1, 3))
    return amplitude * np.sin(2 * np.pi * freq * t[None, None, :, None] + phase)


def _random_rotations(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` rotation matrices drawn uniformly (from random unit quaternions)."""
    q = rng.normal(size=(count, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return _quaternion_matrix(q)


def _small_rotations(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Rotations about random axes by angles ~ N(0, scale), ``[*shape, 3, 3]``."""
    axis = rng.normal(size=(*shape, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.normal(0.0, scale, shape)
    q = np.concatenate([np.cos(angle / 2)[..., None], np.sin(angle / 2)[..., None] * axis], axis=-1)
    return _quaternion_matrix(q)


def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )
