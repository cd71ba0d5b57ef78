"""From a file to a report in three commands, every input format, and clean errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from bcnmf.cli import main
from bcnmf.io.readers import read_input
from helpers import PLANTED, hallmark_planted, write_cells


@pytest.fixture(scope="module")
def planted():
    return hallmark_planted(seed=0, n_cells=300)


def test_fit_enrich_report_recovers_the_planted_programs(planted, tmp_path, capsys):
    target, background, programs = planted
    write_cells(tmp_path / "cells.h5ad", target, background)
    result = tmp_path / "result.h5ad"
    assert main(["fit", str(tmp_path / "cells.h5ad"), "--condition-key", "condition", "--target", "MDD",
                 "--background", "Control", "-k", "5", "--n-enriched", "2", "--alpha", "0", "--max-iter", "200",
                 "--out", str(result), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "target-enriched: topic_3, topic_4" in printed
    assert "of the background's\n" in printed and "withheld" not in printed
    tables = tmp_path / "result_tables"
    assert sorted(p.name for p in tables.iterdir()) == ["fit_statistics.csv", "loadings.csv", "shares.csv",
                                                       "top_features.csv", "topic_enrichment.csv", "usages.csv"]
    statistics = pd.read_csv(tables / "fit_statistics.csv", index_col=0)
    assert list(statistics.index) == ["target", "background"] and (statistics["explained_share"] > 0.5).all()
    fitted = ad.read_h5ad(result)
    loadings = fitted.varm["bcnmf_loadings"].T
    unit = loadings / np.linalg.norm(loadings, axis=1, keepdims=True)
    truth = programs / np.linalg.norm(programs, axis=1, keepdims=True)
    assert (unit[3:] @ truth.T).max(axis=1).min() > 0.9  # the enriched topics are the planted programs

    assert main(["enrich", str(result), "--gene-sets", "hallmark"]) == 0
    enrichment = pd.read_csv(tables / "gene_set_enrichment.csv")
    best = enrichment[enrichment.test == "ora"].groupby("topic").head(1).set_index("topic")
    assert sorted(best.loc[["topic_3", "topic_4"], "gene_set"]) == sorted(PLANTED)
    assert "gene_set_enrichment" in ad.read_h5ad(result).uns["bcnmf"]

    assert main(["report", str(result), "-o", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    enriched_rows = re.findall(r"<tr class='enriched'><td class='text'>(topic_\d)</td>", page)
    assert enriched_rows == ["topic_3", "topic_4"]
    assert all(name in page for name in PLANTED)
    assert page.count("src='data:image/png;base64,") >= 4 and "http" not in page.split("<body>")[1]


@pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("BCNMF_REQUIRE_BROWSER"),
                    reason="Debian's chromium is not installed (.ci/run installs it and requires this test)")
def test_the_report_renders_in_a_browser_with_every_image_loaded(planted, tmp_path):
    target, background, _ = planted
    write_cells(tmp_path / "cells.h5ad", target.iloc[:100], background.iloc[:100])
    result = tmp_path / "result.h5ad"
    assert main(["fit", str(tmp_path / "cells.h5ad"), "--condition-key", "condition", "--target", "MDD",
                 "--background", "Control", "-k", "3", "--max-iter", "30", "--out", str(result), "--quiet"]) == 0
    assert main(["report", str(result), "-o", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    probe = ("<script>window.addEventListener('load', () => { const images = [...document.images]; "
             "const ok = images.every(i => i.complete && i.naturalWidth > 0); "
             "document.title = (ok ? 'LOADED ' : 'BROKEN ') + images.length; });</script></body>")
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe))
    browser = shutil.which("chromium")
    assert browser is not None, "BCNMF_REQUIRE_BROWSER is set but chromium is not installed"
    shown = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                            "--dump-dom", (tmp_path / "probe.html").as_uri()], capture_output=True, text=True,
                           timeout=120)
    title = re.search(r"<title>(.*?)</title>", shown.stdout)
    assert title is not None, shown.stderr[-2000:]
    n_images = page.count("<img ")
    assert n_images >= 4 and title.group(1) == f"LOADED {n_images}"


def test_every_input_format_reads_the_same_cells(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, size=(6, 4)).astype(np.float32)
    genes, cells = [f"G{j}" for j in range(4)], [f"c{i}" for i in range(6)]
    meta = pd.DataFrame({"condition": ["a", "b"] * 3}, index=cells)
    meta.to_csv(tmp_path / "meta.csv")
    folder = tmp_path / "tenx"
    folder.mkdir()
    scipy.io.mmwrite(folder / "matrix.mtx", sp.coo_matrix(X.T))
    pd.DataFrame({"id": [f"ENSG{j}" for j in range(4)], "name": genes, "type": "Gene Expression"}).to_csv(
        folder / "features.tsv", sep="\t", header=False, index=False)
    pd.Series(cells).to_csv(folder / "barcodes.tsv", sep="\t", header=False, index=False)
    table = pd.DataFrame(X, index=pd.Index(cells, name="cell"), columns=genes).assign(condition=meta["condition"])
    table.to_csv(tmp_path / "cells.tsv", sep="\t")
    sp.save_npz(tmp_path / "cells.npz", sp.csr_matrix(X))
    ad.AnnData(X, obs=meta, var=pd.DataFrame(index=genes)).write_h5ad(tmp_path / "cells.h5ad")

    for path, metadata in ((folder, tmp_path / "meta.csv"), (tmp_path / "cells.tsv", None),
                           (tmp_path / "cells.h5ad", None)):
        adata = read_input(path, metadata)
        np.testing.assert_array_equal(np.asarray(sp.csr_matrix(adata.X).todense()), X)
        assert list(adata.var_names) == genes and list(adata.obs_names) == cells
        assert list(adata.obs["condition"]) == list(meta["condition"])
    npz = read_input(tmp_path / "cells.npz")
    np.testing.assert_array_equal(npz.X.toarray(), X)


@pytest.fixture(scope="module")
def small_cells(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cells")
    rng = np.random.default_rng(0)
    target = pd.DataFrame(rng.poisson(2.0, (20, 30)).astype(np.float32), columns=[f"g{j}" for j in range(30)])
    background = pd.DataFrame(rng.poisson(2.0, (20, 30)).astype(np.float32), columns=target.columns)
    write_cells(folder / "cells.h5ad", target, background)
    ad.AnnData(background.to_numpy(), var=pd.DataFrame(index=[f"x{j}" for j in range(30)])).write_h5ad(
        folder / "other_genes.h5ad")
    negative = pd.concat([target, background], ignore_index=True)
    negative.iloc[3, 4] = -1.0
    negative.index = [f"cell{i}" for i in range(len(negative))]
    negative.assign(condition=["MDD"] * 20 + ["Control"] * 20).to_csv(folder / "negative.csv")
    return folder


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control"],
         "INPUT '{folder}/missing.h5ad' does not exist."),
        (["cells.h5ad", "--condition-key", "disease", "--target", "MDD", "--background", "Control"],
         "condition_key='disease' is not a column of adata.obs (columns: 'condition')."),
        (["cells.h5ad", "--condition-key", "condition", "--target", "AD", "--background", "Control"],
         "target='AD': no cell has obs['condition'] == 'AD' (values present: 'MDD', 'Control')."),
        (["cells.h5ad", "--background-input", "other_genes.h5ad"],
         "30 feature(s) of adata are not in adata_background (for example 'g0', 'g1', 'g2', 'g3', 'g4'); subset "
         "both to shared features first."),
        (["negative.csv", "--condition-key", "condition", "--target", "MDD", "--background", "Control"],
         "X_target has 1 negative entries (smallest -1)"),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD"],
         "give --condition-key with --target and --background, or the background cells as --background-input."),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control", "-k", "x"],
         "-k 'x' must be a whole number or 'auto'."),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control",
          "--n-enriched", "x"], "--n-enriched 'x' must be a whole number or 'auto'."),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control", "-k", "5",
          "--n-enriched", "auto"], "'auto' chooses both numbers together, so set both to 'auto'"),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control", "--loss",
          "beta"], "--loss beta needs --beta B"),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control", "--beta",
          "0.5"], "--beta is the beta of --loss beta; with --loss kl leave it out"),
        (["cells.h5ad", "--condition-key", "condition", "--target", "MDD", "--background", "Control", "--solver",
          "fast"], "solver='fast' is not known; choose one of"),
    ],
)
def test_bad_input_ends_with_one_line_and_writes_nothing(small_cells, arguments, message, capsys):
    out = small_cells / "result.h5ad"
    arguments = [str(small_cells / a) if a.endswith((".h5ad", ".csv")) else a for a in arguments]
    rank = [] if "-k" in arguments else ["-k", "2"]
    assert main(["fit", *arguments, *rank, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bcnmf fit: error: ") and message.format(folder=small_cells) in lines[0]
    assert not out.exists() and not (small_cells / "result_tables").exists()
    assert not list(small_cells.glob(".result*"))  # no temporary left behind


def test_fit_takes_every_likelihood_and_fitting_option(small_cells, capsys):
    out = small_cells / "beta.h5ad"
    assert main(["fit", str(small_cells / "cells.h5ad"), "--condition-key", "condition", "--target", "MDD",
                 "--background", "Control", "-k", "2", "--alpha", "0.5", "--loss", "beta", "--beta", "1.5",
                 "--dtype", "float64", "--solver", "minibatch", "--n-init", "2", "--offset", "0.05",
                 "--max-iter", "20", "--quiet", "--out", str(out)]) == 0
    fitted = ad.read_h5ad(out)
    assert fitted.obsm["X_bcnmf"].dtype == np.float64 and np.isfinite(fitted.obsm["X_bcnmf"]).all()
    assert "2 topics, alpha=0.5" in capsys.readouterr().out


def test_an_existing_result_is_kept_when_a_later_run_fails(small_cells):
    out = small_cells / "kept.h5ad"
    out.write_text("an earlier result")
    result = subprocess.run([sys.executable, "-m", "bcnmf.cli", "fit", str(small_cells / "cells.h5ad"), "--condition-key",
                             "condition", "--target", "MDD", "--background", "nobody", "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert out.read_text() == "an earlier result"


def test_select_k_and_select_alpha_write_their_tables_and_plots(small_cells, tmp_path, capsys):
    cells = str(small_cells / "cells.h5ad")
    contrast = ["--condition-key", "condition", "--target", "MDD", "--background", "Control"]
    assert main(["select-k", cells, *contrast, "--candidates", "2", "3", "--restarts", "2", "--max-iter", "30",
                 "--out", str(tmp_path / "k.csv"), "--plot", str(tmp_path / "k.png")]) == 0
    assert "recommended k:" in capsys.readouterr().out
    assert list(pd.read_csv(tmp_path / "k.csv", index_col=0).index) == [2, 3]
    assert (tmp_path / "k.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["select-k", cells, "--candidates", "2", "3", "--restarts", "2", "--max-iter", "30"]) == 0  # plain NMF
    assert main(["select-alpha", cells, *contrast, "-k", "2", "--alphas", "0.5", "2", "--restarts", "2",
                 "--max-iter", "30", "--out", str(tmp_path / "alpha.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "alpha.csv", index_col=0).index) == [0.5, 2.0]
    assert main(["select-alpha", cells, *contrast, "-k", "auto"]) == 2
    assert "-k 'auto' must be a whole number." in capsys.readouterr().err
