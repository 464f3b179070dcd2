"""The text view makers: ``text_augment`` (the modality default, for the catalogue's two-view
methods), ``text_twice`` (the same text twice: dropout is the noise) and ``text_identity`` (one
view, unchanged: methods that mask by themselves). The ops are in
:mod:`selfsup.modalities.text.views.ops`."""

from __future__ import annotations

from typing import Any

import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextBatch, TextSpec
from selfsup.modalities.text.views import ops
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker


def _spec(spec: Any, views: str) -> TextSpec | None:
    if spec is not None and not isinstance(spec, TextSpec):
        raise SelfsupError(f"Views {views!r} make views of text; the data is described by {spec!r}.")
    return spec


def _probability(value: Any, name: str, views: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise SelfsupError(f"Option {name} of views {views!r} must be a number in [0, 1]; got {value!r}.")
    return float(value)


def _text(x: Any, views: str) -> TextBatch:
    if not isinstance(x, TextBatch):
        raise SelfsupError(f"Views {views!r} take text batches; got {type(x).__name__}.")
    return x


@VIEWS.register(
    "text_augment", modality="text",
    paper="Wu et al. 2020, CLEAR (deletion, span masking, reordering); Joshi et al. 2020, SpanBERT (span lengths)",
    description="per text: a random crop of 60-100 % of the tokens, then with probability 0.5 each "
    "SpanBERT span masking (15 %) and token deletion (10 %); reordering off by default",
)
class TextAugment(ViewMaker):
    """Crop -> span masking -> token deletion -> local reordering, each op drawn per text.

    The composition follows CLEAR (Wu et al. 2020), whose best sentence-level pairs combine
    deletion or span deletion with reordering, and the crops of DeCLUTR (Giorgi et al. 2021):
    two views of a text share most of their tokens but never all of them.

    Args:
        input_shape: the data's :class:`TextSpec` (what the builder passes every view maker; only
            checked: the ops need no vocabulary).
        crop_scale: ``[low, high]`` fraction of each text's tokens kept by the crop (``[1, 1]``: off).
        mask_prob: probability that a view's text is span-masked.
        mask_rate: fraction of the text's tokens span masking covers (SpanBERT: 0.15).
        delete_prob: probability that a view's text has tokens deleted.
        delete_rate: fraction of the tokens deleted (CLEAR: 0.1 per word... they sample 70 %
            of views with deletion; selfsup keeps the rate small for short texts).
        shuffle_prob: probability that a view's text is locally reordered.
        shuffle_distance: the local shuffle's largest move + 1 (Lample et al. 2018: 3).
    """

    def __init__(self, input_shape: TextSpec | None = None, crop_scale: tuple[float, float] = (0.6, 1.0),
                 mask_prob: float = 0.5, mask_rate: float = 0.15, delete_prob: float = 0.5,
                 delete_rate: float = 0.1, shuffle_prob: float = 0.0, shuffle_distance: float = 3.0) -> None:
        super().__init__()
        name = "text_augment"
        self.spec = _spec(input_shape, name)
        if not (isinstance(crop_scale, (list, tuple)) and len(crop_scale) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in crop_scale)
                and 0.0 < crop_scale[0] <= crop_scale[1] <= 1.0):
            raise SelfsupError(f"Option crop_scale of views {name!r} must be [low, high] with 0 < low <= high <= 1; "
                               f"got {crop_scale!r}.")
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        self.mask_prob = _probability(mask_prob, "mask_prob", name)
        self.mask_rate = _probability(mask_rate, "mask_rate", name)
        self.delete_prob = _probability(delete_prob, "delete_prob", name)
        self.delete_rate = _probability(delete_rate, "delete_rate", name)
        self.shuffle_prob = _probability(shuffle_prob, "shuffle_prob", name)
        if isinstance(shuffle_distance, bool) or not isinstance(shuffle_distance, (int, float)) or shuffle_distance < 1:
            raise SelfsupError(f"Option shuffle_distance of views {name!r} must be a number >= 1; "
                               f"got {shuffle_distance!r}.")
        self.shuffle_distance = float(shuffle_distance)

    def _per_text(self, prob: float, x: TextBatch) -> torch.Tensor:
        return torch.rand(len(x), device=x.device) < prob

    def augment(self, x: Any, i: int) -> TextBatch:
        x = _text(x, "text_augment")
        if self.crop_scale != (1.0, 1.0):
            x = ops.crop(x, self.crop_scale)
        if self.mask_prob > 0 and self.mask_rate > 0:
            x = ops.choose(self._per_text(self.mask_prob, x), ops.span_mask(x, self.mask_rate)[0], x)
        if self.delete_prob > 0 and self.delete_rate > 0:
            x = ops.choose(self._per_text(self.delete_prob, x), ops.delete_tokens(x, self.delete_rate), x)
        if self.shuffle_prob > 0:
            x = ops.choose(self._per_text(self.shuffle_prob, x), ops.local_shuffle(x, self.shuffle_distance), x)
        return ops.trim(x)


class _Unchanged(ViewMaker):
    name = ""

    def __init__(self, input_shape: TextSpec | None = None) -> None:
        super().__init__()
        self.spec = _spec(input_shape, self.name)

    def augment(self, x: Any, i: int) -> TextBatch:
        return _text(x, self.name)


@VIEWS.register(
    "text_twice", modality="text",
    paper="Gao et al. 2021, SimCSE (the same sentence twice, dropout as the only noise)",
    description="every view is the text itself: the encoder's dropout makes the two views differ",
)
class TextTwice(_Unchanged):
    """The same text as every view (SimCSE, Mirror-BERT): with the encoder in training mode, two
    passes draw two dropout masks, which is the augmentation."""

    name = "text_twice"


@VIEWS.register(
    "text_identity", modality="text",
    description="one view, the text unchanged: for methods that mask by themselves (MLM, ELECTRA, MAE, JEPA)",
)
class TextIdentity(_Unchanged):
    """The text unchanged, for methods whose task is their own masking (MLM, ELECTRA, MAE, JEPA)."""

    name = "text_identity"
