"""Tokenisation with Hugging Face ``tokenizers``: a BPE or WordPiece vocabulary trained on the
training split, or the user's ``tokenizer.json``; and the one-pass encoding of every text into a
:class:`~selfsup.modalities.text.data.dataset.TextStore`.

Every tokenizer selfsup trains has the special tokens at the ids :mod:`.batch` fixes (``[PAD]``
0, ``[UNK]`` 1, ``[CLS]`` 2, ``[SEP]`` 3, ``[MASK]`` 4), BERT's uncased normalisation (Unicode
clean-up, accents stripped, lower case; runs of whitespace become one space) and BERT's
``[CLS] … [SEP]`` template, so the saved ``tokenizer.json`` also works as it is with
``transformers``' ``PreTrainedTokenizerFast``. selfsup itself encodes without the template and adds
``[CLS]``/``[SEP]`` at batching (the ids are fixed), so a user's tokenizer only needs the five
special tokens at those ids.

- ``bpe`` (the default) marks the start of a word SentencePiece's way (``▁the``) and splits off
  punctuation; decoding gives the text back (normalised). Its training is reproducible: the same
  texts give the same ``tokenizer.json`` in every process.
- ``wordpiece`` is BERT's scheme (``##`` continuation pieces). Hugging Face's trainer creates the
  ``##`` pieces in hash-map order, so the same texts may give a slightly different vocabulary from
  one process to the next (huggingface/tokenizers issue 1794): a note says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import CLS, SEP, SPECIAL_TOKENS
from selfsup.modalities.text.data.dataset import TextStore

TOKENIZER_TYPES = ("bpe", "wordpiece")


def train_tokenizer(texts: Sequence[str], vocab_size: int = 8000, tokenizer_type: str = "bpe",
                    lowercase: bool = True) -> Tokenizer:
    """A ``tokenizer_type`` vocabulary of at most ``vocab_size`` ids (special tokens included)
    learned from ``texts`` — the training split only, so the test split's words are pieces of the
    training vocabulary or ``[UNK]``, as they would be for new text."""
    if tokenizer_type not in TOKENIZER_TYPES:
        raise SelfsupError(f"data.options.tokenizer_type is one of {', '.join(TOKENIZER_TYPES)}; got {tokenizer_type!r}.")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size <= len(SPECIAL_TOKENS):
        raise SelfsupError(f"data.options.vocab_size must be a whole number above {len(SPECIAL_TOKENS)} "
                           f"(the special tokens); got {vocab_size!r}.")
    # min_frequency 2: a piece seen once is noise that would take a vocabulary slot
    options = {"vocab_size": vocab_size, "special_tokens": list(SPECIAL_TOKENS), "min_frequency": 2,
               "show_progress": False}
    if tokenizer_type == "bpe":
        # no continuation prefix: with one, tokenizers' trainer is not reproducible (module doc)
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        trainer = trainers.BpeTrainer(**options)
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
        tokenizer.decoder = decoders.Metaspace()
    else:
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
        trainer = trainers.WordPieceTrainer(**options, continuing_subword_prefix="##")
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase),
        normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()])
    tokenizer.train_from_iterator(texts, trainer, length=len(texts))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)])
    check_special_tokens(tokenizer, "the trained tokenizer")
    return tokenizer


def tokenizer_from_json(text: str, where: str) -> Tokenizer:
    """The tokenizer serialised in ``text`` (a ``tokenizer.json``), checked; ``where`` names it in
    errors."""
    try:
        json.loads(text)
    except ValueError as error:
        raise SelfsupError(f"{where} is not valid JSON ({error}); give a tokenizer.json written by Hugging Face "
                           "tokenizers (Tokenizer.save).") from None
    try:
        tokenizer = Tokenizer.from_str(text)
    except Exception as error:  # noqa: BLE001 - any failure means "not a tokenizers file"
        raise SelfsupError(f"{where} is not a tokenizer.json that Hugging Face tokenizers can read: "
                           f"{str(error).splitlines()[0] if str(error) else type(error).__name__}.") from None
    check_special_tokens(tokenizer, where)
    return tokenizer


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The user's ``tokenizer.json`` at ``path`` (``data.options.tokenizer``), checked."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SelfsupError(f"data.options.tokenizer: {path} is not a file; give the path of a tokenizer.json.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SelfsupError(f"Could not read the tokenizer {path}: {error}") from None
    return tokenizer_from_json(text, str(path))


def check_special_tokens(tokenizer: Tokenizer, where: str) -> None:
    """Refuse a tokenizer whose special tokens are missing or not at the fixed ids 0-4."""
    wrong = [f"{token} is {'missing' if tokenizer.token_to_id(token) is None else f'id {tokenizer.token_to_id(token)}'}"
             for i, token in enumerate(SPECIAL_TOKENS) if tokenizer.token_to_id(token) != i]
    if wrong:
        fixed = ", ".join(f"{token}={i}" for i, token in enumerate(SPECIAL_TOKENS))
        raise SelfsupError(f"{where}: selfsup needs the special tokens at fixed ids ({fixed}); in it {'; '.join(wrong)}. "
                           "Train one with these special tokens first, or leave data.options.tokenizer unset to "
                           "train one on the training split.")


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str], max_length: int) -> tuple[TextStore, int]:
    """Every text as token ids, cut to ``max_length - 2`` tokens (room for ``[CLS]`` and
    ``[SEP]``), in one batched call -> the store and how many texts were cut."""
    keep = max_length - 2
    # the tokenizer's own truncation/template stay off: selfsup adds the fixed specials itself
    tokenizer.no_truncation()
    sequences = [encoding.ids for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    cut = sum(len(s) > keep for s in sequences)
    return TextStore.from_lists([s[:keep] for s in sequences]), cut


def check_max_length(max_length: object) -> int:
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 3:
        raise SelfsupError(f"data.options.max_length must be a whole number of at least 3 ([CLS], a token, [SEP]); "
                           f"got {max_length!r}.")
    return max_length
