"""Two more built-in paired data sets, offline:

- ``spoken_verses`` (audio–text): short Bible verses spoken by espeak-ng, each paired with its text.
  The texts are the ``limit`` (default 2,000) shortest distinct verses of the World English Bible
  (Debian ``sword-text-web``, read with ``diatheke`` through the text modality's ``bible_verses``
  reader, so ``sword-text-kjv`` is needed as well: only verses present in both are used), shortest
  by word count, then characters, then canonical order, never more than ``max_words`` (15) words;
  a text that occurs twice ("Then Job answered,") is kept once, so every pair has a text of its
  own. Each verse is spoken once by a seeded choice (``data_seed``) of one of the 12 ``spoken_words``
  speakers (4 English accents x 3 voice variants), a speed of 140, 170 or 200 words a minute and a
  pitch of 35, 50 or 65, without noise; the silence around the speech is trimmed to 20 ms and the
  clip resampled to 16 kHz. Parts: ``audio`` (the waveform, the audio modality's clips) and ``text``
  (the verse, the text modality's tokenizer: BPE of ``vocab_size`` 2,000 by default, fitted on the
  training pairs' texts). Label (``target``): the book's ``genre`` (the default; ``bible_verses``'
  7 genres; of the 2,000: history 575, wisdom 389, law 356, gospels 317, letters 218, prophets 139,
  apocalyptic 6) or ``testament`` (old 1,403, new 597). The 2,000 have 1-11 words and last 0.7-6.7 s
  (mean 2.9 s; every clip is NaN-padded to the longest). Pair ``i`` is verse ``i`` in canonical
  order, heard and read. Generated once into ``$SELFSUP_CACHE`` (default ``~/.cache/selfsup``,
  where ``spoken_words`` goes) ``/spoken_verses-v1-<limit>-<max_words>-<data_seed>.npz`` (about 45 s
  for the 2,000 on one core: 12 s for diatheke to read both Bibles, 30 s to speak), which holds the
  16-bit PCM at 16 kHz and each clip's text, verse reference and speaker, and is reused without
  espeak-ng or diatheke. A verse espeak-ng fails to speak is left out, and a note says so.
- ``ml-100k-items`` (text–table): the MovieLens 100K movies (Harper & Konstan 2015) from the
  RecBole atomic files that the ``ml-100k`` built-in reads (``ml-100k.item`` and ``ml-100k.inter``
  of the ``recbole`` wheel). Parts: ``title`` (the title as text, without a year in parentheses and
  with MovieLens' trailing article put back in front: "Usual Suspects, The" is "The Usual
  Suspects"), ``metadata`` (a table: the 19 genre flags as categorical columns and the release year
  as a number) and ``neighbourhood`` (a table: for each of the ``neighbours`` (64) most rated
  movies, the share of this movie's raters who also rated it, and the log of its number of
  ratings; ``neighbours: 0`` leaves the part out). Label: the first of the movie's genres in
  MovieLens' genre order (the ``ml-100k`` built-in's item label), genres that come first for fewer
  than 40 movies merged into ``other``: 9 classes (Drama 531, Comedy 426, Action 251, other 180,
  Crime 74, Horror 62, Adventure 60, Documentary 49, Children's 48). The metadata part holds the
  genres, so its probe reads the label off; the title and neighbourhood parts do not. Pair ``i`` is
  movie ``i`` in item id order: 1,681 movies (item 267, whose title and year are "unkonwn", is left
  out; item 1412's year, which the RecBole file gives as "V", is read from its title). 22 titles
  name two or three item ids (MovieLens lists some movies more than once); every id is kept.

Both split the pairs as :func:`~.source.paired_source` would (seeded with the run's ``seed``,
stratified by the label), and each part fits what it fits without labels (a tokenizer, a table's
means and categories) on the training pairs only.
"""

from __future__ import annotations

import os
import re
import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from selfsup.data.base import np_load
from selfsup.data.splits import check_fraction
from selfsup.errors import SelfsupError
from selfsup.modalities.multimodal.data.source import PairedSource, paired_source, split_pairs
from selfsup.registry import DATASETS

#: words a minute (espeak-ng's default is 175) and pitches (0-99, default 50) a verse is spoken with
VERSE_SPEEDS = (140, 170, 200)
VERSE_PITCHES = (35, 50, 65)
VERSE_SAMPLE_RATE = 16_000
VERSE_TARGETS = ("genre", "testament")
SPOKEN_VERSES_VERSION = 1

#: MovieLens 100K's genres in its own order (``u.genre``): the order of the RecBole file's ``class``
ML_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
             "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
             "War", "Western")
#: a genre that comes first for fewer movies than this is labelled ``other``
MIN_GENRE_ITEMS = 40
#: the MovieLens item without a title or a year
UNKNOWN_ITEM = "267"
TITLE_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
# "Usual Suspects, The" and "City of Lost Children, The (Cité des enfants perdus, La)"
TRAILING_ARTICLE = re.compile(r"^(?P<title>.+), (?P<article>The|A|An)(?P<rest> \(.*\))?$")


def check_whole(value: Any, option: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise SelfsupError(f"data.options.{option} must be a whole number of at least {least}; got {value!r}.")
    return int(value)


def split_in_part_order(y: np.ndarray, class_names: list[str], seed: int,
                        test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The pairs' split (:func:`~.source.split_pairs`, as ``paired_source`` makes it) and the order the
    parts hold their samples in: ``(order, row, test_pairs, notes)``: each part is read from its
    training pairs' samples then its test pairs' (``order``), so pair ``i`` is row ``row[i]`` of it."""
    train, test, notes = split_pairs(len(y), y, seed, test_fraction, class_names)
    order = np.concatenate([train, test]).astype(np.int64)
    row = np.empty(len(y), dtype=np.int64)
    row[order] = np.arange(len(y))
    return order, row, test, notes


# --- spoken_verses ---------------------------------------------------------------------------------


def shortest_verses(limit: int, max_words: int) -> tuple[list[tuple[int, int, int]], list[str]]:
    """The references and WEB texts of the ``limit`` shortest distinct verses (module doc), in
    canonical order."""
    from selfsup.modalities.text.data.bible import aligned_verses

    references, _, web = aligned_verses()
    words = [len(text.split()) for text in web]
    chosen, seen = [], set()
    for i in sorted(range(len(web)), key=lambda i: (words[i], len(web[i]), i)):
        if words[i] > max_words or len(chosen) == limit:
            break
        if web[i] not in seen:
            seen.add(web[i])
            chosen.append(i)
    if len(chosen) < limit:
        raise SelfsupError(f"The WEB has {len(chosen)} distinct verses of at most {max_words} words; ask for "
                           f"fewer (data.options.limit) or longer ones (data.options.max_words).")
    chosen.sort()
    return [references[i] for i in chosen], [web[i] for i in chosen]


def trim_silence(wave: np.ndarray, rate: int) -> np.ndarray:
    """``wave`` from 20 ms before its first to 20 ms after its last sample above 2 % of its peak."""
    loud = np.flatnonzero(np.abs(wave) > 0.02 * np.abs(wave).max()) if wave.size else []
    if not len(loud):
        return wave
    margin = rate // 50
    return wave[max(0, loud[0] - margin): loud[-1] + margin]


def generate_spoken_verses(path: Path, limit: int, max_words: int, data_seed: int) -> None:
    """Speak the verses (module doc) and save them to ``path`` (written whole, then renamed)."""
    from selfsup.modalities.audio.data.builtins import VOICES
    from selfsup.modalities.audio.data.espeak import Speech, library_path, speak
    from selfsup.modalities.audio.data.files import resample

    if shutil.which("espeak-ng") is None or library_path() is None:
        raise SelfsupError("The spoken_verses data set is generated with espeak-ng, which is not installed. "
                           "Install the Debian package: apt-get install espeak-ng.")
    references, texts = shortest_verses(limit, max_words)
    rng = np.random.default_rng(data_seed)
    voice = rng.integers(len(VOICES), size=len(texts))
    speed, pitch = rng.choice(VERSE_SPEEDS, size=len(texts)), rng.choice(VERSE_PITCHES, size=len(texts))
    spoken = speak([(text, VOICES[v], int(s), int(p)) for text, v, s, p in zip(texts, voice, speed, pitch)])
    clips, kept, failed = [], [], []
    for i, speech in enumerate(spoken):
        if not isinstance(speech, Speech) or not speech.samples:
            failed.append(f"{texts[i]!r} by {VOICES[voice[i]]} ({speech if isinstance(speech, str) else 'no samples'})")
            continue
        wave = np.frombuffer(speech.samples, dtype=np.int16).astype(np.float32) / 32768
        wave = resample(trim_silence(wave, speech.sample_rate), speech.sample_rate, VERSE_SAMPLE_RATE)
        clips.append(np.round(np.clip(wave, -1, 1) * 32767).astype(np.int16))
        kept.append(i)
    if not kept:
        raise SelfsupError(f"espeak-ng spoke none of the spoken_verses texts (first: {failed[0]}).")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, pcm=np.concatenate(clips), offsets=np.cumsum([0] + [len(c) for c in clips]),
             text=np.array([texts[i] for i in kept], dtype=str),
             reference=np.array([references[i] for i in kept], dtype=np.int64).reshape(-1, 3),
             voice=np.array([VOICES[voice[i]] for i in kept], dtype=str), speed=speed[kept], pitch=pitch[kept],
             sample_rate=VERSE_SAMPLE_RATE, failed=np.array(failed, dtype=str))
    partial.replace(path)  # atomic: a reader never sees half a file


def spoken_verses_file(limit: int, max_words: int, data_seed: int) -> Path:
    """Where the clips of these options are cached."""
    from selfsup.modalities.audio.data.builtins import cache_dir

    return cache_dir() / f"spoken_verses-v{SPOKEN_VERSES_VERSION}-{limit}-{max_words}-{data_seed}.npz"


@DATASETS.register(
    "spoken_verses", modality="multimodal", n=2000,
    description="the 2,000 shortest distinct WEB Bible verses spoken by seeded espeak-ng voices / speeds / pitches "
    "(16 kHz), paired with their text; parts audio + text, label genre (7) or testament. Generated once "
    "(apt-get install espeak-ng diatheke sword-text-web sword-text-kjv)",
)
def spoken_verses(seed: int = 0, test_fraction: float = 0.2, target: str = "genre", limit: int = 2000,
                  max_words: int = 15, data_seed: int = 0, vocab_size: int = 2000,
                  max_length: int = 48) -> PairedSource:
    """The spoken_verses built-in (module doc): ``limit`` verses of at most ``max_words`` words, spoken
    with ``data_seed``'s voices and split with ``seed``; ``vocab_size`` / ``max_length`` are the text
    part's tokenizer options."""
    from selfsup.modalities.audio.data.files import assemble_clips
    from selfsup.modalities.text.data.bible import BOOKS, verse_label
    from selfsup.modalities.text.data.source import text_source

    if target not in VERSE_TARGETS:
        raise SelfsupError(f"data.options.target for spoken_verses is one of {', '.join(VERSE_TARGETS)}; got {target!r}.")
    limit, max_words = check_whole(limit, "limit", 2), check_whole(max_words, "max_words", 1)
    data_seed = check_whole(data_seed, "data_seed", 0)
    check_fraction(test_fraction)
    path = spoken_verses_file(limit, max_words, data_seed)
    if not path.exists():
        generate_spoken_verses(path, limit, max_words, data_seed)
    archive = np_load(path)
    texts = [str(text) for text in archive["text"]]
    references = [tuple(int(v) for v in r) for r in archive["reference"]]
    offsets, pcm = archive["offsets"], archive["pcm"]
    clips = [pcm[a:b].astype(np.float32) / 32767 for a, b in pairwise(offsets)]
    names = [f"{BOOKS[book]} {chapter}:{verse} spoken by {voice}"
             for (book, chapter, verse), voice in zip(references, archive["voice"])]
    class_names, y = np.unique([verse_label(r, target) for r in references], return_inverse=True)
    order, row, test, notes = split_in_part_order(y, [str(c) for c in class_names], seed, test_fraction)
    failed = archive["failed"]
    if len(failed):
        notes.append(f"espeak-ng did not speak {len(failed)} of the {limit} chosen verses ({failed[0]}"
                     f"{', …' if len(failed) > 1 else ''}); spoken_verses holds the other {len(texts)}.")
    audio = assemble_clips("spoken_verses:audio", [clips[i] for i in order], None, [names[i] for i in order], [],
                           seed, 0.0, VERSE_SAMPLE_RATE, n_test=len(test))
    n_train = len(order) - len(test)
    text = text_source([texts[i] for i in order], None, name="spoken_verses:text",
                       split=(np.arange(n_train), np.arange(n_train, len(order))), vocab_size=vocab_size,
                       max_length=max_length, row_name=lambda p: f"the text of {names[order[p]]}")
    return paired_source("spoken_verses", {"audio": audio, "text": text}, rows={"audio": row, "text": row},
                         y=y, class_names=[str(c) for c in class_names], test_pairs=test, notes=notes)


# --- ml-100k-items ---------------------------------------------------------------------------------


def natural_title(title: str) -> str:
    """A MovieLens title as it is said: no ``(year)``, the trailing article in front."""
    title = TITLE_YEAR.sub("", title.strip())
    match = TRAILING_ARTICLE.match(title)
    if match:
        title = f"{match['article']} {match['title']}{match['rest'] or ''}"
    return title


def read_items(folder: Path) -> pd.DataFrame:
    """``ml-100k.item`` without item 267: ``item_id``, ``title`` (:func:`natural_title`), ``year``
    (float; from the title where the year field is not a number), ``genres`` (a list in ML_GENRES order)."""
    from selfsup.data.recbole import read_atomic

    items = read_atomic(folder / "ml-100k.item")
    items = items[items["item_id"] != UNKNOWN_ITEM].reset_index(drop=True)
    year = pd.to_numeric(items["release_year"], errors="coerce")
    from_title = pd.to_numeric(items["movie_title"].str.extract(TITLE_YEAR, expand=False), errors="coerce")
    genres = items["class"].str.split()
    unknown = sorted({g for gs in genres for g in gs} - set(ML_GENRES))
    if unknown:
        raise SelfsupError(f"{folder / 'ml-100k.item'} names genres MovieLens 100K does not have "
                           f"({', '.join(unknown)}); reinstall recbole (pip install --no-deps recbole).")
    return pd.DataFrame({"item_id": items["item_id"], "title": items["movie_title"].map(natural_title),
                         "year": year.fillna(from_title), "genres": genres})


def neighbourhood_table(folder: Path, item_ids: pd.Series, neighbours: int) -> pd.DataFrame:
    """``[items, neighbours + 1]``: for each of the ``neighbours`` most rated items (ties by id
    order), the share of each item's raters who also rated it, and ``log_ratings`` (log 1 + ratings)."""
    from selfsup.data.recbole import read_atomic

    inter = read_atomic(folder / "ml-100k.inter")
    column = pd.Index(item_ids).get_indexer(inter["item_id"])
    users, user = np.unique(inter["user_id"].to_numpy(), return_inverse=True)
    known = column >= 0
    rated = np.zeros((len(users), len(item_ids)), dtype=np.float32)
    rated[user[known], column[known]] = 1.0
    ratings = rated.sum(axis=0)
    top = np.argsort(-ratings, kind="stable")[:neighbours]
    shares = (rated.T @ rated[:, top]) / np.maximum(ratings, 1.0)[:, None]
    frame = pd.DataFrame(shares, columns=[f"also_rated_{item_ids.iloc[j]}" for j in top])
    frame["log_ratings"] = np.log1p(ratings)
    return frame


@DATASETS.register(
    "ml-100k-items", modality="multimodal", n=1681,
    description="the 1,681 MovieLens 100K movies: title (text) + genres and year (table) + co-rating profile "
    "(table); label first genre (9 classes). From the recbole wheel (pip install --no-deps recbole)",
)
def ml100k_items(seed: int = 0, test_fraction: float = 0.2, neighbours: int = 64, vocab_size: int = 2000,
                 max_length: int = 32) -> PairedSource:
    """The ml-100k-items built-in (module doc): ``neighbours`` most rated movies in the neighbourhood
    part (0: no such part); ``vocab_size`` / ``max_length`` are the title part's tokenizer options."""
    from selfsup.data.recbole import ml100k_folder
    from selfsup.modalities.tabular.data.source import table_source
    from selfsup.modalities.text.data.source import text_source

    neighbours = check_whole(neighbours, "neighbours", 0)
    check_fraction(test_fraction)
    folder = ml100k_folder("ml-100k-items")
    items = read_items(folder)
    first = items["genres"].str[0]
    counts = first.value_counts()
    labels = first.where(first.map(counts) >= MIN_GENRE_ITEMS, "other")
    class_names, y = np.unique(labels.to_numpy(dtype=str), return_inverse=True)
    order, row, test, notes = split_in_part_order(y, [str(c) for c in class_names], seed, test_fraction)
    n_train = len(order) - len(test)
    train_rows, test_rows = order[:n_train], order[n_train:]
    name_of = [f"item {i} ({t})" for i, t in zip(items["item_id"], items["title"])]
    tables = {"metadata": pd.DataFrame({"year": items["year"],
                                        **{g: items["genres"].map(lambda gs, g=g: g in gs) for g in ML_GENRES}})}
    if neighbours:
        tables["neighbourhood"] = neighbourhood_table(folder, items["item_id"], min(neighbours, len(items)))
    parts: dict[str, Any] = {
        "title": text_source(items["title"].iloc[order].tolist(), None, name="ml-100k-items:title",
                             split=(np.arange(n_train), np.arange(n_train, len(order))), vocab_size=vocab_size,
                             max_length=max_length, row_name=lambda p: f"the title of {name_of[order[p]]}"),
    }
    for part, frame in tables.items():
        parts[part] = table_source(
            frame.iloc[train_rows].reset_index(drop=True), name=f"ml-100k-items:{part}",
            test_frame=frame.iloc[test_rows].reset_index(drop=True) if len(test_rows) else None, seed=seed,
            categorical=list(ML_GENRES) if part == "metadata" else None, test_fraction=0.0,
            row_name=lambda p, part=part: f"the {part} of {name_of[train_rows[p]]}",
            test_row_name=lambda p, part=part: f"the {part} of {name_of[test_rows[p]]}")
    return paired_source("ml-100k-items", parts, rows={part: row for part in parts}, y=y,
                         class_names=[str(c) for c in class_names], test_pairs=test, notes=notes)
