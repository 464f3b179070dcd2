"""The built-in ``bible_verses``: the King James Version (1611/1769) and the World English Bible
(2015), aligned verse by verse, offline.

Read from Debian's ``sword-text-kjv`` (module ``engKJV2006eb``) and ``sword-text-web``
(``engWEB2015eb``) through ``diatheke`` (package ``diatheke``, about 2 s a translation; kept for
the process). The OSIS output is used rather than ``-f plain``: it gives one verse a line with
the section and psalm headings before the verse reference (so they are dropped, never glued to a
verse), and it keeps the word tags of the WEB's Strong's markup, whose adjacent ``<w>`` elements
lack a space (``-f plain`` prints "Godcreated"); a space goes between them before the tags are
stripped. Strong's numbers are off (no ``-o n``); ``¶`` marks and extra whitespace are removed,
and a missing space after a comma or semicolon in the WEB's source text ("conceived,and") is put
back.

Samples are both translations of every verse present in both (the 66 books of the Protestant
canon: the WEB's deuterocanon is left out), about 2 × 31,000. Labels (``data.options.target``):
``book`` (66, the default), ``testament`` (2) or ``genre`` (7: :data:`GENRES`). The split is by
verse reference, stratified by the label, so both translations of a verse fall in the same split;
``limit`` keeps a fixed random subset of the references. The test split's pairs give the
label-free verse-retrieval score: from each KJV verse find its WEB verse among all the test
verses' WEB texts by cosine similarity, and back (Recall@1 and @10, on at most
``retrieval_verses`` test verses), with the embeddings as they are and whitened (BERT-whitening,
:func:`~selfsup.eval.retrieval.fit_whitening`, fitted on a fixed subset of training texts: the
same for every encoder compared, and label-free).
"""

from __future__ import annotations

import functools
import html
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from selfsup.data.splits import check_fraction, stratified_split
from selfsup.errors import SelfsupError
from selfsup.eval.retrieval import fit_whitening, recall_at
from selfsup.modalities.text.data.batch import TextSpec
from selfsup.modalities.text.data.builtins import subsample
from selfsup.modalities.text.data.source import TextSource, text_source
from selfsup.registry import DATASETS

#: translation -> (SWORD module, Debian package)
TRANSLATIONS = {"kjv": ("engKJV2006eb", "sword-text-kjv"), "web": ("engWEB2015eb", "sword-text-web")}
#: the genres of the books, in canonical order; Acts is history, as in the usual division of the
#: New Testament (gospels, history, letters, apocalyptic)
GENRE_BOOKS = (
    ("law", ("Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy")),
    ("history", ("Joshua", "Judges", "Ruth", "I Samuel", "II Samuel", "I Kings", "II Kings", "I Chronicles",
                 "II Chronicles", "Ezra", "Nehemiah", "Esther")),
    ("wisdom", ("Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon")),
    ("prophets", ("Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos", "Obadiah",
                  "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi")),
    ("gospels", ("Matthew", "Mark", "Luke", "John")),
    ("history", ("Acts",)),
    ("letters", ("Romans", "I Corinthians", "II Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians",
                 "I Thessalonians", "II Thessalonians", "I Timothy", "II Timothy", "Titus", "Philemon", "Hebrews",
                 "James", "I Peter", "II Peter", "I John", "II John", "III John", "Jude")),
    ("apocalyptic", ("Revelation of John",)),
)
#: the 66 books as diatheke names them (English locale), in canonical order
BOOKS = tuple(book for _, books in GENRE_BOOKS for book in books)
GENRE = {book: genre for genre, books in GENRE_BOOKS for book in books}
GENRES = tuple(dict.fromkeys(genre for genre, _ in GENRE_BOOKS))
#: Genesis-Malachi are the Old Testament
OLD_TESTAMENT = frozenset(BOOKS[: BOOKS.index("Malachi") + 1])
TARGETS = ("book", "testament", "genre")

# the reference: a book (longest names first, so "I John" is not read as "John") at the start of
# the line or after the heading's whitespace, then "C:V: "
REFERENCE = re.compile(r"(?:^|\s)(" + "|".join(re.escape(b) for b in sorted(BOOKS, key=len, reverse=True))
                       + r") (\d+):(\d+): ")
ADJACENT_WORDS = re.compile(r"</w>(?=<w[\s>])")
TAG = re.compile(r"<[^>]*>")
# the WEB's source text lacks a few spaces: "conceived,and", "world.The", "bornSon"
MISSING_SPACE = re.compile(r"([,;]|[a-z][.!?:])(?=[A-Za-z])|([a-z])(?=[A-Z][a-z])")
# the KJV module's "name of deity" marker (small capitals in print) leaks as "\nd "
FORMAT_CODE = re.compile(r"\\[a-z]+\*?\s?")

Reference = tuple[int, int, int]  # (book index, chapter, verse)


def clean_verse(raw: str) -> str:
    """One verse's OSIS text as plain text (module doc)."""
    text = TAG.sub("", ADJACENT_WORDS.sub("</w> ", raw))
    text = FORMAT_CODE.sub("", html.unescape(text)).replace("¶", " ")
    return " ".join(MISSING_SPACE.sub(lambda m: (m.group(1) or m.group(2)) + " ", text).split())


def parse_osis(output: str) -> dict[Reference, str]:
    """``diatheke -f OSIS`` output -> reference -> clean text, for the 66 books (others, and any
    heading before a reference, are dropped; a repeated reference keeps its first text)."""
    verses: dict[Reference, str] = {}
    for line in output.splitlines():
        match = REFERENCE.search(line)
        if match is None:
            continue
        reference = (BOOKS.index(match.group(1)), int(match.group(2)), int(match.group(3)))
        text = clean_verse(line[match.end():])
        if text and reference not in verses:
            verses[reference] = text
    return verses


@functools.lru_cache(maxsize=1)
def read_translations() -> dict[str, dict[Reference, str]]:
    """The verses of each translation (``kjv``, ``web``) via diatheke, both read at once, or one
    SelfsupError naming the Debian package that is missing."""
    packages = " ".join(package for _, package in TRANSLATIONS.values())
    if shutil.which("diatheke") is None:
        raise SelfsupError("The built-in bible_verses reads the Bible through diatheke, which is not installed. "
                           f"Install it with: sudo apt-get install diatheke {packages}.")
    try:
        running = {name: subprocess.Popen(["diatheke", "-b", module, "-f", "OSIS", "-k", "Gen-Rev"],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                   for name, (module, _) in TRANSLATIONS.items()}
        outputs = {name: process.communicate(timeout=300)[0] for name, process in running.items()}
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SelfsupError(f"diatheke could not read the Bible modules: {error}") from None
    translations = {}
    for name, output in outputs.items():
        module, package = TRANSLATIONS[name]
        verses = parse_osis(output.decode("utf-8", errors="replace"))
        if len(verses) < 30_000:  # diatheke prints nothing for a module it does not have
            raise SelfsupError(f"The built-in bible_verses needs the SWORD module {module} (Debian package "
                               f"{package}); diatheke found {len(verses)} verses in it. Install it with: "
                               f"sudo apt-get install {package}.")
        translations[name] = verses
    return translations


def aligned_verses() -> tuple[list[Reference], list[str], list[str]]:
    """The references present in both translations, in canonical order, and their KJV and WEB
    texts."""
    translations = read_translations()
    kjv, web = translations["kjv"], translations["web"]
    references = sorted(set(kjv) & set(web))
    return references, [kjv[r] for r in references], [web[r] for r in references]


def verse_label(reference: Reference, target: str) -> str:
    book = BOOKS[reference[0]]
    if target == "book":
        return book
    if target == "genre":
        return GENRE[book]
    return "old" if book in OLD_TESTAMENT else "new"


@dataclass
class BibleSource(TextSource):
    """The ``bible_verses`` source: also the test split's verse pairs, which
    :meth:`label_free_scores` retrieves one from the other."""

    pairs_test: torch.Tensor | None = None
    """``[R, 2]``: the test-split positions of the KJV and the WEB text of each test verse."""
    retrieval_verses: int = 5000

    def label_free_scores(self, encoder: Any, embedded: Any = None) -> dict[str, float]:
        """Verse retrieval between the translations on (at most ``retrieval_verses``, a fixed
        random subset of) the test verses: ``verse_r@{1,10}_kjv_web`` (from the KJV verse, find its
        WEB verse) and ``…_web_kjv``; the same with ``_whitened`` appended, after whitening the
        embeddings with the mean and covariance of a fixed random ``2 × retrieval_verses`` training
        texts (:func:`~selfsup.eval.retrieval.fit_whitening`).

        Why both: an MLM encoder's mean-pooled embeddings are dominated by a few shared directions
        (on ``bible_verses`` the first principal component holds 35 % of the variance against 10 %
        at random init), so the raw cosine measures that anisotropy as much as the verse; the
        whitened score compares encoders on what each embedding holds, in any basis."""
        if self.test is None or self.pairs_test is None or len(self.pairs_test) < 2:
            return {}
        from selfsup.engine.evaluation import embed_split

        pairs = self.pairs_test
        if len(pairs) > self.retrieval_verses:
            chosen = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))[: self.retrieval_verses]
            pairs = pairs[chosen.sort().values]
        embeddings = embed_split(encoder, self, Subset(self.test, pairs.reshape(-1).tolist()))  # KJV, WEB, KJV, …
        fitted = torch.randperm(len(self.train), generator=torch.Generator().manual_seed(0))[: 2 * self.retrieval_verses]
        mean, whiten = fit_whitening(embed_split(encoder, self, Subset(self.train, fitted.sort().values.tolist())))
        scores = {}
        for suffix, z in (("", embeddings), ("_whitened", (embeddings - mean) @ whiten)):
            kjv, web = z[0::2], z[1::2]
            for name, (queries, keys) in {"kjv_web": (kjv, web), "web_kjv": (web, kjv)}.items():
                for k, recall in recall_at(queries, keys, (1, 10)).items():
                    scores[f"verse_r@{k}_{name}{suffix}"] = recall
        return scores


@DATASETS.register("bible_verses", modality="text", n=62_190,
                   description="the King James and World English Bibles aligned by verse (Debian sword-text-kjv, "
                   "sword-text-web, diatheke): ~2 x 31,100 verses; labels book (66, default), testament, genre (7); "
                   "label-free KJV<->WEB verse retrieval")
def bible_verses(seed: int = 0, test_fraction: float = 0.2, target: str = "book", limit: int | None = None,
                 retrieval_verses: int = 5000, vocab_size: int = 8000, tokenizer_type: str = "bpe",
                 tokenizer: str | None = None, max_length: int = 128, lowercase: bool = True,
                 input_spec: TextSpec | None = None) -> BibleSource:
    """The bible_verses built-in (module doc); the tokenisation options are the text reader's
    (:func:`~selfsup.modalities.text.data.readers.read_text`)."""
    if target not in TARGETS:
        raise SelfsupError(f"data.options.target for bible_verses is one of {', '.join(TARGETS)}; got {target!r}.")
    if not isinstance(retrieval_verses, int) or isinstance(retrieval_verses, bool) or retrieval_verses < 2:
        raise SelfsupError(f"data.options.retrieval_verses must be a whole number of at least 2; got {retrieval_verses!r}.")
    check_fraction(test_fraction)
    references, kjv, web = aligned_verses()
    chosen = subsample(len(references), limit, "verses")
    references = [references[i] for i in chosen]
    labels = [verse_label(r, target) for r in references]
    # split the verses (not the texts): both translations of a verse fall on the same side
    classes, y = np.unique(labels, return_inverse=True)
    notes = [f"bible_verses: {len(references)} verses in both the KJV and the WEB, 2 texts each; split by verse."]
    train_refs, test_refs = np.arange(len(references)), np.zeros(0, dtype=np.int64)
    if test_fraction > 0:
        train_refs, test_refs, split_notes = stratified_split(y, test_fraction, seed, list(classes))
        notes += split_notes
    texts = [text for i in chosen for text in (kjv[i], web[i])]  # verse r: texts 2r (KJV) and 2r + 1 (WEB)
    both = lambda refs: np.stack([2 * refs, 2 * refs + 1], axis=1).reshape(-1)
    pairs = torch.arange(2 * len(test_refs)).reshape(-1, 2) if len(test_refs) else None
    book_names = [BOOKS[r[0]] for r in references]
    return text_source(
        texts, [label for label in labels for _ in range(2)], name="bible_verses", seed=seed,
        test_fraction=test_fraction, split=(both(train_refs), both(test_refs)), notes=notes,
        row_name=lambda p: f"{'KJV' if p % 2 == 0 else 'WEB'} {book_names[p // 2]} "
                           f"{references[p // 2][1]}:{references[p // 2][2]}",
        vocab_size=vocab_size, tokenizer_type=tokenizer_type, tokenizer=tokenizer, max_length=max_length,
        lowercase=lowercase, input_spec=input_spec, source_type=BibleSource, pairs_test=pairs,
        retrieval_verses=retrieval_verses,
    )
