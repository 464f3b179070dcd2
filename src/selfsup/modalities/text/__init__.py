"""Text: sentences and documents tokenised with Hugging Face ``tokenizers`` (a BPE or WordPiece
vocabulary trained on the training split and saved with the run as ``tokenizer.json``, or the
user's), read from a text file, a table column, a folder of ``.txt`` files, or a list of strings;
the built-ins ``fortunes`` and ``bible_verses`` (the King James Version and the World English
Bible, aligned by verse: a label-free verse-retrieval score).

Texts in Python: ``selfsup.pretrain(data=["a text", "another", ...], modality="text",
method="simcse")``, or ``text_source(texts, labels)``.
"""

from __future__ import annotations

import tokenizers  # noqa: F401  - the modality needs it: without it the package is left out

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.text import encoders, methods, views  # noqa: F401  - registers the model side
from selfsup.modalities.text.data.batch import TextBatch, TextSpec
from selfsup.modalities.text.data.bible import BibleSource  # noqa: F401  - registers bible_verses
from selfsup.modalities.text.data.builtins import fortunes  # noqa: F401  - registers fortunes
from selfsup.modalities.text.data.source import TextSource, text_source
from selfsup.modalities.text.spec import SPEC

__all__ = ["SPEC", "TextBatch", "TextSource", "TextSpec", "text_source"]
