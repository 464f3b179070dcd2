"""MAE, masked modelling: hide most of the input's tokens and reconstruct their content."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.encoders.tokens import check_token_encoder
from selfsup.losses.mae import mae_loss
from selfsup.methods.base import Method
from selfsup.nn.masking import random_token_mask
from selfsup.nn.token_predictor import TokenPredictor
from selfsup.registry import METHODS


@METHODS.register(
    "mae",
    family="masked modelling",
    paper="He et al. 2022, Masked Autoencoders Are Scalable Vision Learners",
    needs=("tokens",),
    # MAE trains with random-resized-crop and flip only; "none" leaves the input as it is
    # (a recipe may choose crop/flip views), never the contrastive colour pipeline.
    view_style="none",
)
class MAE(Method):
    r"""Masked Autoencoder (He, Chen, Xie, Li, Dollár, Girshick 2022).

    The input's tokens are masked uniformly at random per sample (ratio :math:`r`); the
    encoder runs on the visible tokens only; a narrow transformer decoder receives the
    encoded visible tokens and one shared learned mask token at every masked position (both
    with fixed sin-cos position embeddings over the encoder's ``token_grid``) and predicts
    each token's raw content :math:`x_i` (``encoder.token_targets``). The loss is the mean
    squared error on the masked tokens :math:`\mathcal M` only (Section 3):

    .. math::
        \mathcal{L} = \frac{1}{|\mathcal M|} \sum_{i \in \mathcal M}
                      \frac{1}{P} \lVert \mathrm{dec}(\mathrm{enc}(x_{\bar{\mathcal M}}))_i
                      - \tilde x_i \rVert_2^2

    with :math:`\tilde x_i` the per-token normalised content when ``norm_target`` is on.
    The method uses the token contract only (:mod:`selfsup.encoders.tokens`): image patches,
    time-series patches or feature tokens are all the same to it.

    Shapes: ``batch["x"]`` opaque; ``encoder.forward_tokens(x, keep_index [B, K]) -> [B, K, D]``;
    ``encoder.token_targets(x) -> [B, N, P]``; decoder output ``[B, N - K, P]``.

    Args:
        encoder: a token encoder (``vit_tiny`` …); anything else gets a clear error.
        views: view maker; MAE asks it for one view per step (identity or crop/flip).
        mask_ratio: fraction :math:`r` of tokens masked per sample.
        decoder_dim: width of the decoder.
        decoder_depth: number of decoder transformer blocks.
        decoder_heads: attention heads of the decoder.
        norm_target: reconstruct per-token normalised content (``norm_pix_loss``).

    Paper defaults vs. library defaults:
        * mask ratio 0.75 (Section 4, Fig. 5). Library: 0.75.
        * decoder of 8 blocks, width 512, for a ViT-L encoder (Section 4, Table 1a/1b; 1 block
          already gives 84.8 % fine-tuning, but linear probing needs depth). Library: 4 blocks,
          width 128, 4 heads: narrower than the default encoder (192), deep enough that the
          encoder's last blocks are not spent on pixels (digits, 20 epochs: kNN 0.61 with 2
          blocks of width 64, 0.71 with 4 of width 96).
        * normalised pixel targets (Table 1d). Library: on.
        * augmentation: random resized crop + flip only (Table 1f). Library default views
          ``none``; the decoder has no CLS token (the token contract returns tokens only).
        * 1600 epochs, AdamW lr 1.5e-4 * batch / 256, wd 0.05; the engine sets these.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        mask_ratio: float = 0.75,
        decoder_dim: int = 128,
        decoder_depth: int = 4,
        decoder_heads: int = 4,
        norm_target: bool = True,
    ) -> None:
        super().__init__(encoder, views)
        check_token_encoder(encoder, "mae")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        num_masked = int(encoder.num_tokens * mask_ratio)
        if not 1 <= num_masked < encoder.num_tokens:
            raise ValueError(
                f"mask_ratio {mask_ratio} masks {num_masked} of the encoder's {encoder.num_tokens} "
                "tokens; at least one token must be masked and one visible"
            )
        if norm_target and encoder.token_target_dim < 2:
            raise ValueError("norm_target needs tokens with at least 2 values; set it False")
        self.mask_ratio = mask_ratio
        self.norm_target = norm_target
        self.decoder = TokenPredictor(
            encoder.token_dim, encoder.token_target_dim, encoder.token_grid,
            dim=decoder_dim, depth=decoder_depth, heads=decoder_heads,
        )

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        target = self.encoder.token_targets(x)  # [B, N, P]
        batch_size, num_tokens = target.shape[:2]
        # Random masking: per-sample shuffle, keep the first (1 - r) N tokens.
        keep_index, mask_index, mask = random_token_mask(
            batch_size, num_tokens, self.mask_ratio, target.device
        )
        # The encoder sees the visible tokens only.
        latent = self.encoder.forward_tokens(x, keep_index=keep_index)  # [B, K, D]
        # The decoder predicts every masked token from the visible ones + mask tokens.
        pred_masked = self.decoder(latent, keep_index, mask_index)  # [B, N - K, P]
        # Back to grid order: [B, N, P], zero at the visible tokens, which the loss ignores.
        pred = torch.zeros_like(target).scatter(
            1, mask_index[..., None].expand(-1, -1, target.shape[-1]), pred_masked.to(target.dtype)
        )
        loss = mae_loss(pred, target, mask, self.norm_target)
        return {"loss": loss}
