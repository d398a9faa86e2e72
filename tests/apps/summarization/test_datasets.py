"""The shipped data recipes: the Debian group split, wikitext cleaning, the Wikipedia pairs and the
Lee corpus (fast, no training)."""

import re

import pytest

from apps.summarization.datasets.debian import debian_splits
from apps.summarization.datasets.lee import lee_background_text
from apps.summarization.datasets.wikipedia import article_pairs, clean_wikitext
from shared.errors import DataError
from shared.given_data import shared_data_dir

SNIPPET = """{{Infobox person|name=Ada|image={{flag|France}}|caption=x}}
'''Ada Lovelace''' (born {{birth date|1815|12|10}}) was an ''English'' [[mathematician|mathematical]] writer.<ref name="a/b"/> \
She worked on the [[Analytical Engine]].<ref>{{cite book|title=Sketch}}</ref> It weighed {{convert|15|t|lb}} &amp; more.<!-- note -->
[[File:Ada.jpg|thumb|Portrait by [[Alfred Edward Chalon|Chalon]], 1840]]
{| class="wikitable"
|-
! Year !! Event
|-
| 1843 || Notes {{sfn|Smith|2001}}
|}
* [[Charles Babbage]]
*
See [http://example.org the site] and <span style="x">inner text</span>.[[Category:Mathematicians]][[de:Ada Lovelace]]

== Life ==
Text."""

@pytest.fixture(scope="module")
def pairs():
    return article_pairs()


def test_debian_split_keeps_package_groups_apart():
    splits = debian_splits(shared_data_dir(), valid=50, test=50, max_rows=3000)
    first = {s: {" ".join(p.document.lower().split()[:6]) for p in pairs} for s, pairs in splits.items()}
    names = {s: {p.id for p in pairs} for s, pairs in splits.items()}
    assert len(splits["test"]) >= 50 and len(splits["train"]) > 2500
    assert not names["train"] & names["test"] and not names["train"] & names["valid"]
    # the same opening sentence (libfoo1 / libfoo-dev / libfoo-doc) never straddles train and test
    opening = {s: {p.document.split(".")[0].lower().strip() for p in pairs} for s, pairs in splits.items()}
    assert not opening["train"] & opening["test"]
    assert first["test"]


def test_clean_wikitext_drops_markup_and_keeps_text():
    text = clean_wikitext(SNIPPET)
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == ("Ada Lovelace (born 10 December 1815) was an English mathematical writer. "
                             "She worked on the Analytical Engine. It weighed 15 t & more.")
    assert paragraphs[1:] == ["Charles Babbage", "See the site and inner text.", "== Life ==", "Text."]
    for gone in ("France", "Infobox", "Sketch", "Portrait", "Chalon", "Year", "1843", "Smith", "note", "Mathematicians",
                 "de:", "http", "'", "{", "[", "<", "|"):
        assert gone not in text, gone


def test_article_pairs_are_long_clean_wikipedia_articles(pairs):
    assert len(pairs) >= 50
    assert len({p["id"] for p in pairs}) == len(pairs)
    for pair in pairs:
        body, summary = pair["document"], pair["summary"]
        assert len(body.split()) >= 300 and len(summary.split()) >= 20, pair["id"]
        for text in (body, summary):
            for markup in ("{{", "}}", "[[", "]]", "<ref", "{|", "&nbsp;", "'''"):
                assert markup not in text, (pair["id"], markup)
        assert not re.search(r"^=+.*=+$", body, re.MULTILINE), pair["id"]  # headings removed
    einstein = next(p for p in pairs if p["id"] == "Albert Einstein")
    assert einstein["summary"].startswith("Albert Einstein (14 March 1879 – 18 April 1955) was a German-born theoretical")
    assert "relativity" in einstein["document"]
    assert not any(p["id"].endswith("(disambiguation)") for p in pairs)


def test_missing_dump_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        article_pairs(tmp_path / "missing.xml.bz2")


def test_lee_background_documents():
    documents = lee_background_text()
    assert len(documents) == 300
    assert documents[0].startswith("Hundreds of people have been forced to vacate their homes")
    assert all("\n" not in d and d == d.strip() for d in documents)
