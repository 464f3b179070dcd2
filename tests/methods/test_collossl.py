"""ColloSSL: device selection, contrastive sampling, the multi-view loss, and synthetic_har.

Each piece is checked against an independent formulation written here (numpy loops, a plain
cross-entropy); the method's forward is checked to be exactly those pieces put together, and
2 processes x B/2 are checked to give the loss and gradients of 1 process x B.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from _distributed import ddp_average, requires_gloo, run_distributed, shard
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.data.multidevice import (
    ACTIVITIES,
    DEVICES,
    TEST_SUBJECTS,
    synthetic_har,
)
from selfsup.modalities.timeseries.methods.collossl import (
    ColloSSL,
    contrastive_sampling_masks,
    device_mmd,
    gaussian_mmd,
    multiview_contrastive_loss,
    rank_devices,
)
from selfsup.registry import METHODS
from selfsup.views.base import IdentityViews

T, C = 16, 3


class TinyConv(nn.Module):
    """A small Conv1d encoder of ``[B, T, C]`` windows (max over time), no BatchNorm."""

    output_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(C, 8, kernel_size=3, padding=1)
        self.linear = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.relu(self.conv(x.transpose(1, 2))).amax(-1))


def _method(**kwargs) -> ColloSSL:
    torch.manual_seed(0)
    options = {"projector_hidden_dim": 16, "projector_dim": 8}
    options.update(kwargs)
    return ColloSSL(TinyConv(), IdentityViews(), **options)


def _devices_batch(b: int = 32, seed: int = 0) -> torch.Tensor:
    """Device 0 = anchor; 1 = a louder version; 2 = the anchor rotated + a little noise; 3 = unrelated."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T) / 4.0
    freq = 0.5 + torch.rand(b, 1, 1, generator=g)
    amp = 0.5 + torch.rand(b, 1, C, generator=g)
    anchor = amp * torch.sin(2 * math.pi * freq * t[None, :, None] + torch.rand(b, 1, C, generator=g) * 6)
    q, _ = torch.linalg.qr(torch.randn(C, C, generator=g))  # a device mounted differently
    copy = anchor @ q + 0.05 * torch.randn(b, T, C, generator=g)
    louder = 1.6 * anchor
    unrelated = 3.0 * torch.randn(b, T, C, generator=g)
    return torch.stack([anchor, louder, copy, unrelated], dim=1)  # [B, 4, T, C]


# ----------------------------------------------------------------------------- MMD and selection


def _numpy_mmd(x: np.ndarray, y: np.ndarray, bandwidths: list[float]) -> float:
    def k(a, b):
        return np.mean([math.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in bandwidths])

    kxx = np.mean([[k(a, b) for b in x] for a in x])
    kyy = np.mean([[k(a, b) for b in y] for a in y])
    kxy = np.mean([[k(a, b) for b in y] for a in x])
    return max(kxx + kyy - 2 * kxy, 0.0)


def test_gaussian_mmd_equals_numpy_loop():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 5, generator=g, dtype=torch.float64)
    y = 0.5 + 1.5 * torch.randn(9, 5, generator=g, dtype=torch.float64)
    bandwidths = [0.5, 1.0, 3.0]
    expected = _numpy_mmd(x.numpy(), y.numpy(), bandwidths)
    assert expected > 0.01
    assert gaussian_mmd(x, y, bandwidths).item() == pytest.approx(expected, rel=1e-9)
    assert gaussian_mmd(x, x, bandwidths).item() == pytest.approx(0.0, abs=1e-12)


def test_device_mmd_uses_channel_norms_and_the_anchor_median_bandwidth():
    x = _devices_batch(b=6).double()
    norms = np.linalg.norm(x.numpy(), axis=-1)  # [B, D, T]
    anchor = norms[:, 0]
    pairwise = [np.linalg.norm(a - b) for i, a in enumerate(anchor) for j, b in enumerate(anchor) if i != j]
    # torch's median of an even count is the lower middle value
    median = float(np.sort(pairwise)[(len(pairwise) - 1) // 2])
    bandwidths = [median * s for s in (0.25, 0.5, 1.0, 2.0, 4.0)]
    expected = [_numpy_mmd(anchor, norms[:, d], bandwidths) for d in range(4)]
    torch.testing.assert_close(device_mmd(x, anchor=0), torch.tensor(expected, dtype=torch.float64))


def test_selection_picks_the_noisy_copy_as_positive_and_the_unrelated_device_as_negative():
    x = _devices_batch()
    distances = device_mmd(x, anchor=0)
    # The rotated copy is closest (the channel norm ignores how a device is mounted), the
    # unrelated device farthest.
    assert distances[0] == 0 and distances[2] < distances[1] < distances[3]
    assert rank_devices(distances, anchor=0, num_positives=1) == ([2], [1, 3])
    assert rank_devices(distances, anchor=0, num_positives=1, num_negatives=1) == ([2], [1])
    method = _method()
    assert method.select_devices(x) == ([2], [1, 3])
    assert method.selected_devices == ([2], [1, 3])
    # raw features see the rotation: the copy is no longer the closest device
    raw = device_mmd(x, anchor=0, features="raw")
    assert raw[2] > distances[2]


def test_random_and_all_selections_are_the_ablations():
    distances = torch.tensor([0.0, 0.3, 0.1, 0.9])
    positives, negatives = rank_devices(distances, 0, 1, None, "random", torch.Generator().manual_seed(0))
    assert len(positives) == 1 and sorted(positives + negatives) == [1, 2, 3]
    orders = {tuple(rank_devices(distances, 0, 3, None, "random", torch.Generator().manual_seed(s))[0])
              for s in range(20)}
    assert len(orders) > 1
    assert rank_devices(distances, 0, selection="all") == ([1, 2, 3], [])


# ----------------------------------------------------------------------------- contrastive sampling


@pytest.mark.parametrize("negatives", [[3], [0, 2, 3]], ids=["negative_devices", "with_anchor_and_positive"])
def test_masks_positives_same_time_on_positive_devices_negatives_other_times(negatives):
    b, d, n, offset = 3, 4, 6, 3  # this process holds global windows 3..5 of 6
    pos, neg = contrastive_sampling_masks(b, d, anchor=0, positives=[2], negatives=negatives,
                                          num_candidates=n, offset=offset)
    assert pos.shape == neg.shape == (b, d, n)
    for i in range(b):
        for dev in range(d):
            for j in range(n):
                same_time = j == offset + i
                assert pos[i, dev, j] == (dev == 2 and same_time)
                assert neg[i, dev, j] == (dev in negatives and not same_time)
        assert not pos[i, 0].any() and not neg[i, 0, offset + i]  # never the anchor window itself
    assert not (pos & neg).any()


def test_method_masks_follow_its_selection():
    method = _method(negatives_include_selected=False)
    method.select_devices(_devices_batch())
    assert method.negative_devices == [1, 3]
    method.negatives_include_selected = True
    assert method.negative_devices == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- the loss


def _loop_loss(anchor, candidates, pos, neg, tau, w_pos, w_neg) -> float:
    a = F.normalize(anchor.detach(), dim=-1)
    c = F.normalize(candidates.detach(), dim=-1)
    total = 0.0
    for i in range(a.shape[0]):
        top = bottom = 0.0
        for d in range(c.shape[1]):
            for j in range(c.shape[0]):
                term = math.exp(float(a[i] @ c[j, d]) / tau)
                if pos[i, d, j]:
                    top += w_pos[d] * term
                    bottom += w_pos[d] * term
                elif neg[i, d, j]:
                    bottom += w_neg[d] * term
        total += -math.log(top / bottom)
    return total / a.shape[0]


def test_multiview_loss_equals_loop_formulation():
    g = torch.Generator().manual_seed(2)
    b, d, e = 5, 4, 6
    candidates = torch.randn(b, d, e, generator=g, dtype=torch.float64)
    anchor = candidates[:, 0]
    pos, neg = contrastive_sampling_masks(b, d, anchor=0, positives=[1, 2], negatives=[0, 2, 3])
    w_pos = torch.rand(d, generator=g, dtype=torch.float64) + 0.5
    w_neg = torch.rand(d, generator=g, dtype=torch.float64) + 0.5
    loss = multiview_contrastive_loss(anchor, candidates, pos, neg, 0.3, w_pos, w_neg)
    expected = _loop_loss(anchor, candidates, pos, neg, 0.3, w_pos.tolist(), w_neg.tolist())
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_one_positive_device_that_is_also_the_negative_device_is_infonce():
    g = torch.Generator().manual_seed(3)
    candidates = torch.randn(6, 2, 4, generator=g, dtype=torch.float64)
    pos, neg = contrastive_sampling_masks(6, 2, anchor=0, positives=[1], negatives=[1])
    loss = multiview_contrastive_loss(candidates[:, 0], candidates, pos, neg, temperature=0.5)
    a, c = F.normalize(candidates[:, 0], dim=-1), F.normalize(candidates[:, 1], dim=-1)
    torch.testing.assert_close(loss, F.cross_entropy(a @ c.T / 0.5, torch.arange(6)))


def test_negative_weights_are_inverse_mmd_normalised_to_mean_one():
    method = _method(negatives_include_selected=False)
    method.select_devices(_devices_batch())
    w_pos, w_neg = method.device_weights()
    distance = method.device_distance
    assert torch.equal(w_pos, torch.ones(4))
    assert w_neg[[1, 3]].mean().item() == pytest.approx(1.0)
    assert (w_neg[1] / w_neg[3]).item() == pytest.approx((distance[3] / distance[1]).item(), rel=1e-5)
    unweighted = _method(weighted=False)
    unweighted.select_devices(_devices_batch())
    assert torch.equal(unweighted.device_weights()[1], torch.ones(4))


# ----------------------------------------------------------------------------- the method


def test_forward_is_selection_sampling_and_loss_put_together():
    x = _devices_batch(b=8)
    method = _method(projector_dim=None, num_negatives=1, negatives_include_selected=False)
    out = method({"x": x, "index": torch.arange(8)})  # no "y": labels are never read
    assert method.selected_devices == ([2], [1])
    z = method.encoder(x.reshape(-1, T, C)).reshape(8, 4, -1)
    pos, neg = contrastive_sampling_masks(8, 4, 0, [2], [1])
    w_pos, w_neg = method.device_weights()
    expected = _loop_loss(z[:, 0], z, pos, neg, method.temperature, w_pos.tolist(), w_neg.tolist())
    assert out["loss"].item() == pytest.approx(expected, rel=1e-4)
    # the unrelated device 3 is neither selected nor embedded


def test_forward_backward_reaches_the_encoder_and_logs_detached_scalars():
    method = _method()
    out = method({"x": _devices_batch(b=16)})
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    for p in method.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    for key, value in out.items():
        assert isinstance(value, torch.Tensor) and value.dim() == 0, key
        assert key == "loss" or not value.requires_grad


def test_selection_is_kept_with_reselect_every_zero_and_redone_with_one():
    x = _devices_batch()
    swapped = x[:, [0, 2, 1, 3]]  # now device 1 is the noisy copy
    fixed, dynamic = _method(reselect_every=0), _method(reselect_every=1)
    for method in (fixed, dynamic):
        method({"x": x})
        method({"x": swapped})
    assert fixed.selected_devices[0] == [2]
    assert dynamic.selected_devices[0] == [1]


def test_selection_is_checkpointed():
    method = _method()
    method({"x": _devices_batch()})
    restored = _method()
    restored.load_state_dict(method.state_dict())
    assert restored.selected_devices == method.selected_devices == ([2], [1, 3])


def test_non_multi_device_input_is_a_clear_error():
    method = _method()
    with pytest.raises(SelfsupError, match=r"ColloSSL needs multi-device data \[N, D, T, C\]"):
        method({"x": torch.randn(8, T, C)})
    with pytest.raises(SelfsupError, match="anchor=5"):
        _method(anchor=5)({"x": _devices_batch()})
    with pytest.raises(SelfsupError, match="no negatives"):
        _method(selection="all", negatives_include_selected=False)({"x": _devices_batch()})
    with pytest.raises(ValueError, match="selection"):
        _method(selection="closest")


def test_registered_with_time_series_defaults_and_no_augmentation():
    entry = METHODS.entry("collossl")
    assert entry.factory is ColloSSL and entry.info.family == "contrastive"
    assert entry.info.default_encoder == "dilated_cnn"
    assert entry.info.default_views == "none"
    assert entry.info.modality == "timeseries"  # written for (multi-device) time series
    assert "default" in ColloSSL.__doc__.lower()


# ----------------------------------------------------------------------------- synthetic_har


@pytest.fixture(scope="module")
def har():
    return synthetic_har(n=432)


def test_synthetic_har_shapes_labels_and_split_by_subject(har):
    assert har.modality == "timeseries" and har.input_spec.devices == list(DEVICES)
    assert har.train.x.shape[1:] == (5, 64, 3) and har.train.x.dtype == torch.float32
    assert har.train.x.shape[0] + har.test.x.shape[0] == 432
    assert har.y_train.dtype == torch.int64 and har.class_names == list(ACTIVITIES)
    assert set(har.y_train.tolist()) == set(har.y_test.tolist()) == set(range(6))
    assert set(har.subject_test.tolist()) == set(TEST_SUBJECTS)
    assert not set(har.subject_train.tolist()) & set(TEST_SUBJECTS)
    assert torch.isfinite(har.train.x).all()


def test_synthetic_har_single_device_is_that_device_of_the_full_set(har):
    wrist = synthetic_har(n=432, device="wrist")
    assert wrist.train.x.shape[1:] == (64, 3) and wrist.input_spec.devices is None
    torch.testing.assert_close(wrist.test.x, har.test.x[:, 0])
    torch.testing.assert_close(wrist.y_train, har.y_train)
    with pytest.raises(SelfsupError, match="device"):
        synthetic_har(device="elbow")
    with pytest.raises(SelfsupError, match="n of synthetic_har"):
        synthetic_har(n=10)


def test_synthetic_har_is_fixed_by_data_seed_not_the_run_seed(har):
    torch.testing.assert_close(synthetic_har(n=432, seed=5).train.x, har.train.x)
    assert not torch.allclose(synthetic_har(n=432, data_seed=1).train.x, har.train.x)


def test_synthetic_har_devices_differ_and_neighbours_are_closest():
    har = synthetic_har(n=720)
    x = har.train.x
    for a in range(5):
        for b in range(a + 1, 5):
            assert not torch.allclose(x[:, a], x[:, b], atol=0.1)
    closest = {}
    for i, name in enumerate(DEVICES):
        distance = device_mmd(x[:400], anchor=i)
        distance[i] = float("inf")
        closest[name] = DEVICES[int(distance.argmin())]
    assert closest["chest"] == "waist" and closest["waist"] == "chest" and closest["ankle"] == "thigh"


def test_synthetic_har_loads_by_name():
    from selfsup.data import load_data

    bundle = load_data("synthetic_har", n=72, device="ankle")
    assert bundle.train.x.shape[1:] == (64, 3)


# ----------------------------------------------------------------------------- distributed

GLOBAL_BATCH = 8


def _loss_and_grads(rows: slice) -> tuple[torch.Tensor, list[torch.Tensor], tuple]:
    torch.manual_seed(0)
    method = ColloSSL(TinyConv().double(), IdentityViews(), projector_dim=None, temperature=0.2)
    x = _devices_batch(b=GLOBAL_BATCH, seed=4).double()
    loss = method({"x": x[rows]})["loss"]
    loss.backward()
    return loss.detach(), [p.grad for p in method.encoder.parameters()], method.selected_devices


def _worker(rank: int) -> dict:
    loss, grads, selected = _loss_and_grads(shard(rank, GLOBAL_BATCH))
    return {"loss": loss, "grads": ddp_average(grads), "selected": list(selected)}


@pytest.mark.slow  # spawns processes
@requires_gloo
def test_two_processes_give_the_single_process_loss_gradients_and_selection(tmp_path):
    ranks = run_distributed(_worker, tmp_path)
    loss, grads, selected = _loss_and_grads(slice(None))
    torch.testing.assert_close(torch.stack([r["loss"] for r in ranks]).mean(), loss)
    for r in ranks:
        assert r["selected"] == list(selected)  # the selection saw the global batch
        for got, want in zip(r["grads"], grads):
            torch.testing.assert_close(got, want)
