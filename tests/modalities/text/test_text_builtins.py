"""The text built-ins (fortunes, bible_verses: skipped where the Debian packages are missing),
the verse alignment and split, and the verse-retrieval score with encoders whose answer is known."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.eval.retrieval import fit_whitening, partner_ranks, recall_at
from selfsup.modalities.text.data import bible as bible_module
from selfsup.modalities.text.data.bible import BOOKS, GENRE, GENRES, clean_verse, parse_osis
from selfsup.modalities.text.data.builtins import FORTUNES_DIR, fortune_records
from selfsup.registry import DATASETS

needs_fortunes = pytest.mark.skipif(not (FORTUNES_DIR / "fortunes").is_file(),
                                    reason="fortunes needs the Debian packages fortunes and fortunes-min")
needs_bible = pytest.mark.skipif(shutil.which("diatheke") is None,
                                 reason="bible_verses needs the Debian packages diatheke, sword-text-kjv, sword-text-web")


@needs_fortunes
def test_fortunes_categories_with_100_texts_and_a_note_for_the_others():
    source = DATASETS.build("fortunes", limit=3000, vocab_size=500)
    records = fortune_records()
    kept = sorted(c for c, texts in records.items() if len(texts) >= 100)
    assert source.class_names == kept and "off" not in records
    assert not any(name.endswith((".dat", ".u8")) for name in records)
    note = next(n for n in source.notes if "left out" in n)
    assert all(c in note for c in records if len(records[c]) < 100)
    assert source.n_train + source.n_test == 3000
    assert all(t == t.strip() and t for t in source.texts_train) and "%" not in source.texts_train[:50]


def test_fortunes_without_the_packages_is_one_clear_error(tmp_path):
    with pytest.raises(SelfsupError, match="apt-get install fortunes fortunes-min"):
        fortune_records(tmp_path)


def test_bible_without_diatheke_is_one_clear_error(monkeypatch):
    bible_module.read_translations.cache_clear()
    monkeypatch.setattr(bible_module.shutil, "which", lambda name: None)
    try:
        with pytest.raises(SelfsupError, match="apt-get install diatheke sword-text-kjv sword-text-web"):
            bible_module.read_translations()
    finally:
        bible_module.read_translations.cache_clear()


def test_books_and_genres():
    assert len(BOOKS) == 66 and len(set(BOOKS)) == 66
    assert set(GENRE) == set(BOOKS) and len(GENRES) == 7
    assert GENRE["Acts"] == "history" and GENRE["Revelation of John"] == "apocalyptic"
    assert GENRE["Psalms"] == "wisdom" and GENRE["Jude"] == "letters" and GENRE["Genesis"] == "law"


def test_osis_parsing_drops_headings_and_fixes_glued_words():
    output = ("Genesis 1:1: <w>In</w> <w>the</w> <w>beginning</w>, <w>God</w><w>created</w> the earth.<milestone/>\n"
              "A Psalm of David, when he fled.   Psalms 3:1: <w>LORD</w>, how ¶ are they increased! \n"
              "<title>ALEPH</title>  I John 1:1: That which was from the beginning,which we have heard\n"
              "Tobit 1:1: not canonical here\n(engWEB2015eb)\n")
    verses = parse_osis(output)
    assert verses[(0, 1, 1)] == "In the beginning, God created the earth."
    assert verses[(BOOKS.index("Psalms"), 3, 1)] == "LORD, how are they increased!"
    assert verses[(BOOKS.index("I John"), 1, 1)] == "That which was from the beginning, which we have heard"
    assert len(verses) == 3
    assert clean_verse("the \\nd <w>LORD</w> said") == "the LORD said"


@pytest.fixture(scope="module")
def bible():
    if shutil.which("diatheke") is None:
        pytest.skip("bible_verses needs the Debian packages diatheke, sword-text-kjv, sword-text-web")
    return DATASETS.build("bible_verses", limit=1000, target="genre", vocab_size=800)


@pytest.mark.slow  # diatheke reads both Bibles: about 5-10 s on 2 busy cores
@needs_bible
def test_bible_alignment():
    references, kjv, web = bible_module.aligned_verses()
    assert len(references) > 31_000 and {r[0] for r in references} == set(range(66))
    first = references.index((0, 1, 1))
    assert kjv[first] == "In the beginning God created the heaven and the earth."
    assert web[first] == "In the beginning, God created the heavens and the earth."
    psalm = references.index((BOOKS.index("Psalms"), 3, 1))
    assert not web[psalm].startswith("A Psalm") and not kjv[psalm].startswith("A Psalm")
    headings = ("Psalm of David", "chief Musician", "praise psalm by David")
    assert not any(h in t for h in headings for t in kjv + web)
    assert not any("¶" in t or "\\" in t or t != t.strip() for t in kjv + web)


@pytest.mark.slow  # diatheke reads both Bibles: about 5-10 s on 2 busy cores
@needs_bible
def test_bible_split_keeps_both_translations_of_a_verse_together(bible):
    assert bible.class_names == sorted(GENRES) or set(bible.class_names) <= set(GENRES)
    assert bible.n_train + bible.n_test == 2000 and bible.n_test == 2 * len(bible.pairs_test)
    train, test = set(bible.texts_train), bible.texts_test
    # test texts come in (KJV, WEB) pairs of the same verse: same label, neither text in training
    y = bible.y_test
    assert torch.equal(y[bible.pairs_test[:, 0]], y[bible.pairs_test[:, 1]])
    assert not any(t in train for t in test[:50])


@pytest.mark.slow  # diatheke reads both Bibles: about 5-10 s on 2 busy cores
@needs_bible
def test_bible_unknown_target():
    with pytest.raises(SelfsupError, match="target for bible_verses is one of book, testament, genre"):
        DATASETS.build("bible_verses", target="author")


class PairEncoder(nn.Module):
    """Maps both texts of test verse r to the one vector e_r (one-hot of r): retrieval is exact."""

    output_dim = 64

    def __init__(self, source) -> None:
        super().__init__()
        self.verse_of = {}
        # texts may repeat across verses (synthetic data): the first verse with them wins
        for r, (a, b) in reversed(list(enumerate(source.pairs_test.tolist()))):
            for i in (a, b):
                self.verse_of[tuple(source.test.__getitems__([i])["x"].ids[0].tolist())] = r
        self.size = len(source.pairs_test)

    def forward(self, x) -> torch.Tensor:
        return torch.stack([self.embed(tuple(ids[:n].tolist())) for ids, n in zip(x.ids, x.lengths)])

    def embed(self, text: tuple) -> torch.Tensor:
        if text in self.verse_of:
            return nn.functional.one_hot(torch.tensor(self.verse_of[text]), self.size).float() + 0.01
        # a text of no test verse (the training texts the whitening is fitted on): a vector of its own
        return torch.randn(self.size, generator=torch.Generator().manual_seed(hash(text) % 2**31))


@pytest.mark.slow  # diatheke reads both Bibles: about 5-10 s on 2 busy cores
@needs_bible
def test_verse_retrieval_of_an_exact_pair_encoder_is_one_and_of_a_constant_encoder_zero(bible):
    scores = bible.label_free_scores(PairEncoder(bible))
    exact = {"verse_r@1_kjv_web": 1.0, "verse_r@10_kjv_web": 1.0, "verse_r@1_web_kjv": 1.0, "verse_r@10_web_kjv": 1.0}
    assert scores == {**exact, **{f"{key}_whitened": 1.0 for key in exact}}

    class Constant(nn.Module):
        output_dim = 4

        def forward(self, x):
            return torch.ones(len(x), 4)

    assert bible.label_free_scores(Constant())["verse_r@1_kjv_web"] == 0.0


def test_recall_at_k_with_known_ranks():
    keys = torch.eye(4)
    queries = torch.stack([keys[0], 0.8 * keys[2] + 0.6 * keys[1], 0.9 * keys[2] + 0.1 * keys[1] + 0.5 * keys[0],
                           keys[2]])
    assert partner_ranks(queries, keys).tolist() == [0, 1, 0, 3]  # the last ties with 3 keys: ranked after them
    assert recall_at(queries, keys, (1, 2)) == {1: 0.5, 2: 0.75}


def test_verse_retrieval_on_synthetic_pairs():
    from selfsup.modalities.text.data.bible import BibleSource
    from selfsup.modalities.text.data.source import text_source

    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    texts = [f"{words[r % 8]} {words[r // 8]} verse" for r in range(40) for _ in range(2)]
    pairs = torch.arange(40).reshape(-1, 2)
    source = text_source(texts, vocab_size=60, split=(list(range(40)), list(range(40, 80))), source_type=BibleSource,
                         pairs_test=pairs, retrieval_verses=15)
    scores = source.label_free_scores(PairEncoder(source))
    assert scores["verse_r@1_kjv_web"] == 1.0 and scores["verse_r@1_web_kjv"] == 1.0
    assert scores["verse_r@1_kjv_web_whitened"] == 1.0 and scores["verse_r@1_web_kjv_whitened"] == 1.0


def test_whitening_gives_identity_covariance_and_retrieval_that_no_linear_map_changes():
    torch.manual_seed(0)
    mixing = torch.randn(6, 6) + 3 * torch.eye(6)
    fitted = torch.randn(500, 6) @ mixing + 4.0  # correlated, off-centre
    mean, whiten = fit_whitening(fitted)
    white = (fitted - mean) @ whiten
    torch.testing.assert_close(torch.cov(white.T), torch.eye(6), atol=1e-4, rtol=0)
    # paired noisy copies: whitened ranks are the same in any basis, raw ranks are not
    verses = torch.randn(40, 6) @ mixing
    queries, keys = verses + 0.8 * torch.randn(40, 6), verses + 0.8 * torch.randn(40, 6)
    skew = torch.randn(6, 6) + torch.diag(torch.tensor([20.0, 1, 1, 1, 1, 1]))

    def whitened_ranks(transform):
        m, w = fit_whitening(fitted @ transform)
        return partner_ranks((queries @ transform - m) @ w, (keys @ transform - m) @ w)

    assert torch.equal(whitened_ranks(torch.eye(6)), whitened_ranks(skew))
    assert not torch.equal(partner_ranks(queries, keys), partner_ranks(queries @ skew, keys @ skew))
    # a set that spans fewer directions than its width: those are whitened, the rest dropped
    flat = torch.cat([torch.randn(50, 2), torch.zeros(50, 3)], dim=1)
    mean, whiten = fit_whitening(flat)
    assert torch.isfinite(whiten).all() and torch.linalg.matrix_rank(whiten) == 2
