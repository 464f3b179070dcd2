r"""ColloSSL: contrastive learning across time-synchronised devices worn by one person.

Jain, Tang, Min, Kawsar, Mathur 2022, "ColloSSL: Collaborative Self-Supervised Learning for Human
Activity Recognition" (Proc. ACM IMWUT 6(1)). Devices worn at the same time on different body
parts record the same activity through different sensors and placements: they are *natural
views* of each other, so no augmentation is needed. The paper's three parts, in this file:

1. **Device selection** (:func:`device_mmd`, :func:`rank_devices`): the distance between the
   anchor device's data distribution and every other device's is the Maximum Mean Discrepancy
   with a Gaussian kernel; the closest devices are *positive* devices, farther ones *negative*.
2. **Contrastive sampling** (:func:`contrastive_sampling_masks`): for the anchor window at time
   ``i``, positives are the positive devices' windows at the SAME time ``i``; negatives are the
   negative devices' windows at OTHER times ``j != i`` (drawn from the batch), so a negative
   never shows the same moment as the anchor.
3. **Multi-view contrastive loss** (:func:`multiview_contrastive_loss`): InfoNCE with several
   weighted positives and negatives.

The loss, the masks and the MMD are plain functions, usable without the method.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.timeseries.losses.collossl import (
    MMD_FEATURES,
    SELECTIONS,
    contrastive_sampling_masks,
    device_features,
    device_mmd,
    feature_mmd,
    gaussian_mmd,
    multiview_contrastive_loss,
    rank_devices,
)
from selfsup.nn.gather import gather, rank
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS

__all__ = [
    "ColloSSL", "contrastive_sampling_masks", "device_features", "device_mmd", "feature_mmd",
    "gaussian_mmd", "multiview_contrastive_loss", "rank_devices",
]

#: floor of an MMD before it is inverted into a weight (the released code's 1e-4)
MIN_MMD = 1e-4


# ----------------------------------------------------------------------------- the method


@METHODS.register(
    "collossl",
    family="contrastive",
    paper="Jain et al. 2022, ColloSSL: Collaborative Self-Supervised Learning for Human Activity Recognition",
    default_encoder="dilated_cnn",
    # The devices are the views: the paper trains without augmentation.
    default_views="none",
    # written for time series from several devices: x [N, D, T, C]
    modality="timeseries",
    input="multi-device x [N, D, T, C]",
)
class ColloSSL(Method):
    r"""ColloSSL (Jain, Tang, Min, Kawsar, Mathur 2022): devices worn together are each other's views.

    A batch holds ``x [B, D, T, C]``: window ``i`` of every one of the ``D`` devices records the
    same moment. One encoder :math:`f` (shared by all devices) and projector :math:`g` map each
    device's window to :math:`z^d_i = g(f(x^d_i))`.

    1. *Device selection.* :math:`\mathrm{MMD}(a, d)` between the anchor device :math:`a` and each
       device :math:`d` (Gaussian-kernel MMD of their windows in the batch, on the norm over
       channels, see :func:`device_mmd`); the ``num_positives`` closest devices form
       :math:`\mathcal{P}`, the next ``num_negatives`` (default: all others) :math:`\mathcal{N}`.
    2. *Contrastive sampling.* Anchor :math:`z^a_i`; positives :math:`z^p_i, p \in \mathcal{P}`
       (same time); negatives :math:`z^n_j, n \in \mathcal{N}, j \ne i` (other times of the batch).
       With ``negatives_include_selected`` the anchor's and the positive devices' windows at
       other times are negatives too: :math:`\mathcal{N} \cup \{a\} \cup \mathcal{P}` at
       :math:`j \ne i`.
    3. *Multi-view contrastive loss*

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_i \log
            \frac{\sum_{p\in\mathcal{P}} e^{s(z^a_i, z^p_i)/\tau}}
                 {\sum_{p\in\mathcal{P}} e^{s(z^a_i, z^p_i)/\tau}
                  + \sum_{n\in\mathcal{N}} \sum_{j\ne i} w_n\, e^{s(z^a_i, z^n_j)/\tau}},
        \qquad w_n \propto 1 / \mathrm{MMD}(a, n)

    (:func:`multiview_contrastive_loss`); with ``weighted=False`` every :math:`w_n = 1`.

    Shapes: ``batch["x"]`` ``[B, D, T, C]``; the encoder sees ``[B * D', T, C]`` (the ``D'``
    devices in use) and returns ``[B * D', E]``. ``embed`` is the encoder on ``batch["x"]``; a
    time-series encoder averages the devices of ``[B, D, T, C]`` — to evaluate on one device,
    embed its windows ``[B, T, C]`` (e.g. ``synthetic_har`` with ``device=...``).

    Distributed: the embeddings are gathered with :func:`selfsup.nn.gather.gather`, so the
    negatives ``j != i`` come from the global batch, and the device selection is computed on the
    gathered batch, so every process selects the same devices; 2 processes × B equal 1 × 2B.

    Args:
        encoder: maps ``[B, T, C]`` to ``[B, E]`` (``output_dim = E``).
        views: view maker applied once to the batch before the devices are split (default
            ``none``: the devices are the views; any time-series view maker works on
            ``[B, D, T, C]``).
        anchor: index of the anchor device (the one whose model is wanted).
        num_positives: number of positive devices (``selection`` ``"mmd"``/``"random"``).
        num_negatives: number of negative devices; None: every device that is not positive.
        selection: ``"mmd"`` (the paper), ``"random"`` or ``"all"`` (every other device positive)
            for ablations.
        reselect_every: recompute the selection every this many training steps on the current
            batch; 0: select once, on the first batch, and keep it.
        negatives_include_selected: also use the anchor's and the positive devices' windows at
            other times as negatives.
        weighted: weight each negative device by :math:`1/\mathrm{MMD}(a, n)` (only with
            ``selection="mmd"``); weights are normalised to mean 1 over the negative devices.
        temperature: :math:`\tau`.
        mmd_features: ``"norm"`` or ``"raw"`` (see :func:`device_features`).
        projector_hidden_dim / projector_dim: the 2-layer MLP :math:`g`; ``projector_dim=None``
            uses the encoder output directly (:math:`g` = identity).

    Paper defaults vs. library defaults:
        The values below are those of the authors' released code (github.com/akhilmathurs/
        collossl, ``hparam_tuning_mp.py`` for multi-device training, ``common_parser.py``);
        the paper's method section describes the same three components.
        * views: none — the other devices are the transformations (released ``data_aug='none'``).
          Library: ``none``.
        * device selection: MMD with a sum of Gaussian kernels of 12 fixed widths on the
          accelerometer norm (``mmd_acc_norm``), recomputed on every batch
          (``dynamic_device_selection=1``). Library: the same norm features and per-batch
          selection (``reselect_every=1``); the widths are 5 multiples of the median distance
          between anchor windows, so the selection does not depend on the units of the data.
        * ``closest_pos_all_neg``: 1 positive device (the closest), every other device negative
          (the positive included), and with ``unsync_neg`` the anchor's own windows at other
          times too. Library: ``num_positives=1``, ``num_negatives=None``,
          ``negatives_include_selected=True``.
        * weighted loss (``weighted_collossl=True``): negative devices weighted by 1/MMD (the
          anchor by 2/min MMD). Library: the same relative weights, normalised to mean 1 over
          the negative devices: the released code draws one negative window per device, here
          every other window of the batch is a negative, and unnormalised weights of 1/MMD
          (up to 10^4) would then swamp the positives.
        * temperature 0.05. Library: 0.05.
        * projection head: none (the base model's output is contrasted). Library: a 2-layer MLP
          512-128 as in the library's SimCLR, so ColloSSL and single-device SimCLR compare at
          equal heads; ``projector_dim=None`` gives the released setting.
        * batch 512, Adam lr 1e-4 with cosine decay, 100 epochs: the engine's and the recipe's
          choice (``configs/collossl_multidevice.yaml``).
    """

    ROLE_UNUSED, ROLE_ANCHOR, ROLE_POSITIVE, ROLE_NEGATIVE = 0, 1, 2, 3

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        anchor: int = 0,
        num_positives: int = 1,
        num_negatives: int | None = None,
        selection: str = "mmd",
        reselect_every: int = 1,
        negatives_include_selected: bool = True,
        weighted: bool = True,
        temperature: float = 0.05,
        mmd_features: str = "norm",
        projector_hidden_dim: int = 512,
        projector_dim: int | None = 128,
    ) -> None:
        super().__init__(encoder, views)
        if isinstance(anchor, bool) or not isinstance(anchor, int) or anchor < 0:
            raise ValueError(f"anchor must be a device index >= 0, got {anchor!r}")
        if num_positives < 1:
            raise ValueError(f"num_positives must be >= 1, got {num_positives}")
        if num_negatives is not None and num_negatives < 0:
            raise ValueError(f"num_negatives must be >= 0 or None (all), got {num_negatives}")
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
        if reselect_every < 0:
            raise ValueError(f"reselect_every must be >= 0 (0: select once), got {reselect_every}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if mmd_features not in MMD_FEATURES:
            raise ValueError(f"mmd_features must be one of {MMD_FEATURES}, got {mmd_features!r}")
        self.anchor = anchor
        self.num_positives = num_positives
        self.num_negatives = num_negatives
        self.selection = selection
        self.reselect_every = reselect_every
        self.negatives_include_selected = negatives_include_selected
        self.weighted = weighted
        self.temperature = temperature
        self.mmd_features = mmd_features
        if projector_dim is None:
            self.projector: nn.Module = nn.Identity()
        else:
            self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2)
        # The current selection, checkpointed: MMD of each device to the anchor ([D]) and each
        # device's role (ROLE_*); empty until the first batch says how many devices there are.
        self.register_buffer("device_distance", torch.zeros(0))
        self.register_buffer("device_role", torch.zeros(0, dtype=torch.long))
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ selection

    def _check_input(self, x: Any) -> tuple[int, int]:
        if not isinstance(x, Tensor) or x.dim() != 4:
            got = f"shape {list(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
            raise SelfsupError(
                f"ColloSSL needs multi-device data [N, D, T, C] (D time-synchronised devices); "
                f"got {got}. Use a multi-device data set such as synthetic_har (without device=)."
            )
        batch, devices = int(x.shape[0]), int(x.shape[1])
        if devices < 2:
            raise SelfsupError(f"ColloSSL needs at least 2 devices; the data has D = {devices}.")
        if self.anchor >= devices:
            raise SelfsupError(
                f"ColloSSL anchor={self.anchor} but the data has only {devices} devices "
                f"(indices 0..{devices - 1}); set method.anchor."
            )
        if self.selection != "all" and self.num_positives > devices - 1:
            raise SelfsupError(
                f"ColloSSL num_positives={self.num_positives} but only {devices - 1} devices "
                "besides the anchor exist; lower method.num_positives."
            )
        if batch < 2:
            raise SelfsupError("ColloSSL needs batches of at least 2 windows (negatives come from other times).")
        return batch, devices

    @torch.no_grad()
    def select_devices(self, x: Tensor) -> tuple[list[int], list[int]]:
        """Select (and keep) the positive and negative devices from the batch ``x [B, D, T, C]``.

        Distributed, the device features of all processes are gathered first, so every process
        computes the same MMD and makes the same choice. Returns ``(positives, negatives)``
        (the negative *devices*; see :attr:`negative_devices` for what the loss contrasts).
        """
        _, devices = self._check_input(x)
        if self.selection == "mmd":
            feats = gather(device_features(x, self.mmd_features))  # [B_global, D, F]
            distances = feature_mmd(feats, self.anchor)
        else:
            distances = torch.zeros(devices, device=x.device)
        generator = torch.Generator().manual_seed(int(self.step))
        positives, negatives = rank_devices(
            distances, self.anchor, self.num_positives, self.num_negatives, self.selection, generator
        )
        role = torch.full((devices,), self.ROLE_UNUSED, dtype=torch.long, device=self.step.device)
        role[self.anchor] = self.ROLE_ANCHOR
        role[positives] = self.ROLE_POSITIVE
        role[negatives] = self.ROLE_NEGATIVE
        self.device_distance = distances.float().to(self.step.device)
        self.device_role = role
        return positives, negatives

    @property
    def selected_devices(self) -> tuple[list[int], list[int]]:
        """The current ``(positive devices, negative devices)``, closest first."""
        if self.device_role.numel() == 0:
            raise RuntimeError("no devices selected yet: call select_devices(x) or train a step")
        distance, roles = self.device_distance.tolist(), self.device_role.tolist()

        def closest_first(role: int) -> list[int]:
            return sorted((d for d, r in enumerate(roles) if r == role), key=lambda d: (distance[d], d))

        return closest_first(self.ROLE_POSITIVE), closest_first(self.ROLE_NEGATIVE)

    @property
    def negative_devices(self) -> list[int]:
        """Devices whose windows at other times are negatives (see ``negatives_include_selected``)."""
        positives, negatives = self.selected_devices
        if self.negatives_include_selected:
            return sorted({self.anchor, *positives, *negatives})
        return negatives

    def device_weights(self) -> tuple[Tensor, Tensor]:
        """``(w_positive [D], w_negative [D])`` of the loss for the current selection."""
        devices = self.device_role.numel()
        w_pos = torch.ones(devices, device=self.step.device)
        w_neg = torch.ones(devices, device=self.step.device)
        negatives = self.negative_devices
        if self.weighted and self.selection == "mmd" and negatives:
            inverse = 1.0 / self.device_distance.clamp_min(MIN_MMD)
            others = [d for d in range(devices) if d != self.anchor]
            # The anchor's own other-time windows are the hardest negatives: the released code
            # gives them half the smallest distance of any device.
            inverse[self.anchor] = 2.0 / self.device_distance[others].clamp_min(MIN_MMD).min()
            chosen = inverse[negatives]
            w_neg[negatives] = chosen / chosen.mean()
        return w_pos, w_neg

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        # The selection buffers take their size (D) from the data: resize before loading.
        for name in ("device_distance", "device_role"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name], device=self.step.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ training step

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = batch["x"]
        batch_size, devices = self._check_input(x)
        stale = self.device_role.numel() != devices
        due = self.training and self.reselect_every > 0 and int(self.step) % self.reselect_every == 0
        if stale or due:
            self.select_devices(x)
        positives, _ = self.selected_devices
        negatives = self.negative_devices
        if not negatives:
            raise SelfsupError(
                "ColloSSL has no negatives: no negative device was selected and "
                "negatives_include_selected is off. Turn it on, or select fewer positives."
            )

        # No augmentation by default: the devices are the views (see the docstring).
        x = self.views(batch, 1)[0]["x"]
        used = sorted({self.anchor, *positives, *negatives})
        windows = x[:, used]  # [B, D', T, C]
        h = self.encoder(windows.reshape(batch_size * len(used), *windows.shape[2:]))
        z_used = self.projector(h).reshape(batch_size, len(used), -1)
        # Embeddings of every device ([B, D, E]); devices not in use stay 0 and are never sampled.
        z = z_used.new_zeros(batch_size, devices, z_used.shape[-1])
        z = z.index_copy(1, torch.tensor(used, device=z.device), z_used)
        candidates = gather(z)  # [N, D, E]: negatives come from the global batch
        positive_mask, negative_mask = contrastive_sampling_masks(
            batch_size, devices, self.anchor, positives, negatives,
            num_candidates=candidates.shape[0], offset=rank() * batch_size,
        )
        w_pos, w_neg = self.device_weights()
        loss = multiview_contrastive_loss(
            z[:, self.anchor], candidates, positive_mask.to(z.device), negative_mask.to(z.device),
            self.temperature, w_pos, w_neg,
        )
        if self.training:
            self.step += 1
        with torch.no_grad():
            positive_cosine = F.cosine_similarity(
                z[:, self.anchor, None], z[:, positives], dim=-1
            ).mean()
        return {
            "loss": loss,
            "positive_cosine": positive_cosine.detach(),
            "positive_device": torch.tensor(float(positives[0])),
            "positive_mmd": self.device_distance[positives].mean().detach(),
        }
