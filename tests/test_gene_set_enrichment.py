"""Gene-set collections and the enrichment of topics, offline."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hypergeom, mannwhitneyu

from bcnmf import BCNMF
from bcnmf.enrichment.gene_set_tests import enrich_topics
from bcnmf.enrichment.gene_sets import bundled, load_gene_sets, read_gmt
from helpers import PLANTED, hallmark_planted

def test_bundled_collections_load_offline():
    hallmark, go = bundled("hallmark"), bundled("GO_BP")
    assert len(hallmark) == 50 and "HALLMARK_HYPOXIA" in hallmark and "VEGFA" in hallmark["HALLMARK_HYPOXIA"]
    assert len(go) == 5233 and all(15 <= len(genes) for genes in go.values())
    assert set(load_gene_sets(["hallmark", "GO_BP"])) == {"hallmark", "GO_BP"}


def test_gmt_files_and_dicts_are_read(tmp_path):
    text = "SET_A\tdescription\tG1\tG2\tG3\nSET_B\thttp://x\tG3\tG4\n"
    (tmp_path / "mine.gmt").write_text(text)
    with gzip.open(tmp_path / "packed.gmt.gz", "wt") as handle:
        handle.write(text)
    expected = {"SET_A": ["G1", "G2", "G3"], "SET_B": ["G3", "G4"]}
    assert read_gmt(tmp_path / "mine.gmt") == expected == read_gmt(tmp_path / "packed.gmt.gz")
    loaded = load_gene_sets([str(tmp_path / "mine.gmt"), {"SET_C": ["G5"]}])
    assert loaded == {"mine": expected, "custom": {"SET_C": ["G5"]}}


@pytest.mark.parametrize(
    ("gene_sets", "error", "message"),
    [
        ("KEGG", ValueError, "not a bundled collection .*GO_BP, hallmark"),
        ([], ValueError, "empty list"),
        ({"S": "G1"}, ValueError, "non-empty list of gene names"),
        (["hallmark", "hallmark"], ValueError, "names the collection 'hallmark' twice"),
        (3, TypeError, "not understood"),
    ],
)
def test_bad_gene_sets_are_named(gene_sets, error, message):
    with pytest.raises(error, match=message):
        load_gene_sets(gene_sets)


def test_a_broken_gmt_line_is_reported_with_its_number(tmp_path):
    (tmp_path / "bad.gmt").write_text("OK\td\tG1\nBROKEN\tonly description\n")
    with pytest.raises(ValueError, match="line 2"):
        read_gmt(tmp_path / "bad.gmt")


def test_both_tests_match_direct_computations():
    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(200)]
    values = rng.gamma(0.5, 1.0, size=(2, 200)) * (rng.random((2, 200)) > 0.4)  # many tied zeros
    loadings = pd.DataFrame(values, index=["t0", "t1"], columns=genes)
    members = [genes[i] for i in rng.choice(200, 30, replace=False)]
    table = enrich_topics(loadings, {"S": members}, n_top=20, min_size=5)
    in_set = np.isin(genes, members)
    for topic, row in zip(("t0", "t1"), values):
        top = np.argsort(-row, kind="stable")[:20]
        overlap = int(in_set[top].sum())
        ora = table[(table.topic == topic) & (table.test == "ora")].iloc[0]
        assert ora.overlap == overlap and ora.set_size == 30
        assert ora.p_value == pytest.approx(hypergeom.sf(overlap - 1, 200, 30, 20))
        assert ora.effect == pytest.approx(overlap / (30 * 20 / 200))
        rank = table[(table.topic == topic) & (table.test == "rank")].iloc[0]
        direct = mannwhitneyu(row[in_set], row[~in_set], alternative="greater", method="asymptotic")
        assert rank.p_value == pytest.approx(direct.pvalue, rel=1e-6)
        assert rank.effect == pytest.approx(direct.statistic / (30 * 170))


def test_programs_planted_from_hallmark_sets_come_back_as_the_top_hits():
    target, background, _ = hallmark_planted()
    genes = list(target.columns)
    model = BCNMF(5, n_enriched=2, alpha=0.0, random_state=0, max_iter=200).fit(target, background)
    loadings = pd.DataFrame(model.components_, index=[f"topic_{i}" for i in range(5)], columns=genes)
    table = enrich_topics(loadings, "hallmark")
    for test in ("ora", "rank"):
        hits = table[(table.test == test) & table.topic.isin(["topic_3", "topic_4"])]
        best = hits.groupby("topic").head(1)
        assert sorted(best.gene_set) == sorted(PLANTED), test
        assert (best.q_value < 0.05).all()
        # No planted set tops a shared topic.
        shared_best = table[(table.test == test) & table.topic.isin(["topic_0", "topic_1", "topic_2"])]
        assert not set(shared_best.groupby("topic").head(1).gene_set) & set(PLANTED)


def test_mouse_symbols_meet_human_sets_unless_matching_is_exact():
    genes = ["Cd74", "B2m", "Stat1", "Irf1", "Gbp2", "Actb", "Gapdh"] + [f"g{i}" for i in range(50)]
    values = np.zeros((1, len(genes)))
    values[0, :5] = 1.0
    loadings = pd.DataFrame(values, index=["t"], columns=genes)
    sets = {"IFN": ["CD74", "B2M", "STAT1", "IRF1", "GBP2"]}
    table = enrich_topics(loadings, sets, n_top=5, min_size=3)
    assert table.loc[table.test == "ora", "overlap"].item() == 5
    assert table.loc[table.test == "ora", "genes"].item() == "Cd74;B2m;Stat1;Irf1;Gbp2"
    with pytest.raises(ValueError, match="no gene set has 3 to 1000 genes"):
        enrich_topics(loadings, sets, n_top=5, min_size=3, case_sensitive=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"tests": ("gsea",)}, "choose one or more of"), ({"n_top": 0}, "n_top=0 must be"),
     ({"min_size": 10, "max_size": 5, "n_top": 3}, "min_size=10 and max_size=5")],
)
def test_bad_enrichment_settings_are_named(kwargs, message):
    loadings = pd.DataFrame(np.ones((1, 10)), columns=[f"g{i}" for i in range(10)])
    with pytest.raises(ValueError, match=message):
        enrich_topics(loadings, {"S": ["g1", "g2"]}, **kwargs)
