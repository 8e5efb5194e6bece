"""Evaluation: retrieval ranks against brute force, Rec, the classifier on real sketches, overlap
measures on hand-set GMMs, and evaluate()/CLI end to end on a tiny checkpoint trained here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import iapix.evaluate as ev
from iapix.checkpoint import save_checkpoint
from iapix.cli import main as cli_main
from iapix.data import prepare
from iapix.evaluate import (
    affordable_error,
    bhattacharyya,
    code_structure,
    compare,
    confusion_nmi,
    cut_nmi,
    even_confusion,
    load_or_train_classifier,
    nmi,
    overlap_measures,
    rec,
    rec_confusion,
    ret_from_ranks,
    retrieval_ranks,
    train_classifier,
)
from iapix.latent import GMMLatent
from iapix.model import preset
from iapix.train import Trainer

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


# ----------------------------------------------------------------------------------------------
# retrieval


def np_ranks(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Brute force, float64: rank_i = #{j : d_ij <= d_ii} - 1 (ties count against the query)."""
    d = ((q[:, None, :].astype(np.float64) - k[None, :, :]) ** 2).sum(-1)
    return (d <= np.diag(d)[:, None]).sum(1) - 1


def test_retrieval_ranks_match_brute_force():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(300, 8)).astype(np.float32) + 5.0  # off-centre: exercises the centring
    q = k + rng.normal(scale=0.8, size=k.shape).astype(np.float32)
    ranks = retrieval_ranks(q, k, chunk=37)  # several chunks, the last one partial
    assert ranks.dtype == torch.int64 and ranks.shape == (300,)
    np.testing.assert_array_equal(ranks.numpy(), np_ranks(q, k))
    assert 0 < ranks.float().mean() < 299, "neither all perfect nor all worst: a real test"
    np.testing.assert_array_equal(retrieval_ranks(torch.from_numpy(q), torch.from_numpy(k)).numpy(), ranks.numpy())


def test_retrieval_ranks_stay_on_the_inputs_device():
    # "meta" stands in for a GPU (none here): one tensor made on the CPU inside would make torch.cat refuse
    q = torch.randn(300, 8, device="meta")
    ranks = retrieval_ranks(q, q, chunk=64)
    assert ranks.device.type == "meta" and ranks.shape == (300,) and ranks.dtype == torch.int64


def test_retrieval_ranks_ties_count_against_the_query():
    keys = np.array([[0, 0], [1, 0], [1, 0], [0, 3], [2, 2]], dtype=np.float32)  # keys 1 and 2 coincide
    ranks = retrieval_ranks(keys, keys)
    np.testing.assert_array_equal(ranks.numpy(), [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(ranks.numpy(), np_ranks(keys, keys))
    q = np.array([[0, 0], [0, 0], [1, 0], [0, 2], [2, 2]], dtype=np.float32)  # query 1 sits on key 0
    # query 1: d to own key (1,0) is 1; key 0 is at 0, key 2 (a copy of key 1) at 1 -> 2 keys as close
    assert retrieval_ranks(q, keys)[1] == 2 == np_ranks(q, keys)[1]
    # query 3 at (0,2): own key (0,3) at 1, key 0 at 4, key 4 at 4 -> nearest
    assert retrieval_ranks(q, keys)[3] == 0


def test_ret_at_k_perfect_and_random():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 16)).astype(np.float32)
    assert ret_from_ranks(retrieval_ranks(x, x)) == {"ret@1": 1.0, "ret@10": 1.0, "ret@50": 1.0}
    r = ret_from_ranks(retrieval_ranks(rng.normal(size=x.shape).astype(np.float32), x))
    # a random query's own key is uniformly ranked: Ret@k ~ k / N (binomial std ~0.0035 at k = 50)
    for k in (1, 10, 50):
        assert abs(r[f"ret@{k}"] - k / 2000) < 4 * math.sqrt(k / 2000 * (1 - k / 2000) / 2000) + 1e-3


def test_retrieval_ranks_bad_shapes():
    with pytest.raises(ValueError, match="queries"):
        retrieval_ranks(np.zeros((3, 2)), np.zeros((4, 2)))


# ----------------------------------------------------------------------------------------------
# the classifier and Rec


@pytest.fixture(scope="module")
def real_data():
    return prepare(["cat", "pig"], DATA, limit=300)  # 600 train, 450 valid, 450 test (cat 200, pig 250)


@pytest.fixture(scope="module")
def classifier(real_data):
    return train_classifier(real_data, epochs=5, batch_size=32, width=8, seed=0, progress=False)


def test_classifier_beats_chance_on_real_sketches(classifier, real_data):
    model, info = classifier
    majority = np.bincount(real_data.labels["test"]).max() / len(real_data.labels["test"])  # 250/450 = 0.556
    # measured after 5 epochs on these 600 sketches: 0.773 / 0.733 / 0.782 (seeds 0 / 1 / 2). One that learned
    # nothing predicts one class and scores the majority share 0.556 (binomial std over 450 images: 0.023),
    # so 0.65 is four standard deviations above chance and well below what training reaches
    assert info["test_acc"] > 0.65 > majority + 0.09
    assert info["train_size"] == 600 and info["test_size"] == 450 and len(info["valid_history"]) == 5
    assert info["valid_acc"] == max(info["valid_history"]), "the best validation epoch is kept"
    assert info["test_acc"] == ev.accuracy(model, real_data.images["test"], real_data.labels["test"])


def test_rec_is_the_accuracy_by_hand(classifier, real_data):
    model, _ = classifier
    images, labels = real_data.images["test"][:100], real_data.labels["test"][:100].copy()
    labels[::3] = 1 - labels[::3]  # some wrong labels, so Rec is not the classifier's accuracy
    with torch.no_grad():
        pred = model(torch.from_numpy(images).unsqueeze(1)).argmax(1).numpy()
    assert rec(model, images, labels) == pytest.approx(float((pred == labels).mean()))
    assert rec(model, torch.from_numpy(images).unsqueeze(1), labels) == pytest.approx(float((pred == labels).mean()))
    with pytest.raises(ValueError, match="labels"):
        rec(model, images, labels[:50])


def test_rec_confusion_counts_each_source_by_its_generation_label(classifier, real_data):
    model, _ = classifier
    pick = np.r_[140:200, 200:260]  # 60 test cats, then 60 test pigs (prepare keeps the categories in order)
    images, labels = real_data.images["test"][pick], real_data.labels["test"][pick].copy()
    assert np.bincount(labels).tolist() == [60, 60]
    labels[::4] = 1 - labels[::4]
    with torch.no_grad():
        pred = model(torch.from_numpy(images).unsqueeze(1)).argmax(1).numpy()
    cm = rec_confusion(model, images, labels, 2)
    assert cm.shape == (2, 2) and cm.sum() == 120
    for c in range(2):
        for j in range(2):
            assert cm[c, j] == int(((labels == c) & (pred == j)).sum()), (c, j)
    assert np.trace(cm) / cm.sum() == pytest.approx(rec(model, images, labels))
    assert cm.sum(1).tolist() == np.bincount(labels, minlength=2).tolist(), "rows are the sources"
    with pytest.raises(ValueError, match="labels"):
        rec_confusion(model, images, labels[:50], 2)
    with pytest.raises(ValueError, match=r"integers in 0\.\.1, got int64 in 1\.\.2"):
        rec_confusion(model, images, labels + 1, 2)
    with pytest.raises(ValueError, match="integers in 0..1, got float"):
        rec_confusion(model, images, labels.astype(float), 2)
    with pytest.raises(ValueError, match="predicts class 1, but num_classes is 1"):
        rec_confusion(model, images, np.zeros_like(labels), 1)
    assert ev.rec_by_category(cm) == [cm[0, 0] / cm[0].sum(), cm[1, 1] / cm[1].sum()]
    assert ev.rec_by_category([[3, 1], [0, 0]]) == [0.75, None]
    table = ev.rec_table(["cat", "pig"], [[3, 1], [0, 0]])  # no pig sources: no Rec to give
    assert table[-2:] == ["| cat | 4 | 0.75 | 0.75 | 0.25 |", "| pig | 0 | – | – | – |"]


# ----------------------------------------------------------------------------------------------
# overlap measures on hand-set GMMs


def gmm(means, variances, alpha, objective="ia") -> GMMLatent:
    means = torch.tensor(means, dtype=torch.float32)
    lat = GMMLatent(means.shape[1], len(means), objective)
    lat.means.copy_(means)
    lat.variances.copy_(torch.tensor(variances, dtype=torch.float32))
    lat.alpha.copy_(torch.tensor(alpha, dtype=torch.float32))
    return lat


def test_bhattacharyya_closed_form():
    means = torch.tensor([[0.0, 0.0], [100.0, -100.0], [0.5, 0.0]])
    var = torch.tensor([[1.0, 2.0], [1.0, 1.0], [3.0, 0.5]])
    bc = bhattacharyya(means, var)
    np.testing.assert_allclose(torch.diag(bc).numpy(), 1.0, atol=1e-12)
    assert bc[0, 1] < 1e-100 and torch.allclose(bc, bc.T)
    # against a numerical integral of sqrt(p q) (the product over the two independent dimensions)
    x = np.linspace(-30, 30, 200001)

    def n(x, m, v):
        return np.exp(-0.5 * (x - m) ** 2 / v) / np.sqrt(2 * np.pi * v)

    num = np.prod([np.trapezoid(np.sqrt(n(x, means[0, d].item(), var[0, d].item()) *
                                        n(x, means[2, d].item(), var[2, d].item())), x) for d in range(2)])
    assert bc[0, 2].item() == pytest.approx(num, rel=1e-6)


def test_overlap_perfect_labelling_and_far_components():
    lat = gmm([[-50.0, 0.0], [50.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]], [0.5, 0.5])
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    mu = torch.tensor(np.stack([np.where(labels == 0, -50.0, 50.0), np.zeros(80)], 1) + rng.normal(size=(80, 2)),
                      dtype=torch.float32)
    o = overlap_measures(lat, mu, torch.full_like(mu, 0.1), labels, ["cat", "pig"])
    assert o["K"] == 2 and o["alive"] == 2 and o["used"] == 2
    assert o["bc_weighted"] < 1e-100 and o["bc_max"] < 1e-100
    assert o["nmi"] == pytest.approx(1.0) and o["purity"] == 1.0 and o["ambiguous"] == 0.0
    assert sorted((c["k"], c["majority"], c["n"], c["share"]) for c in o["components"]) == \
        [(0, "cat", 40, 1.0), (1, "pig", 40, 1.0)]
    # swapping the labels of half the codes of one category: mixed components, NMI and purity drop
    mixed = labels.copy()
    mixed[:20] = 1
    o2 = overlap_measures(lat, mu, torch.full_like(mu, 0.1), mixed)
    assert o2["nmi"] < 0.5 and o2["purity"] == pytest.approx(60 / 80)
    # component 0 now holds 20 of each (pigs first in the data): the tie goes to the first category, cat (0)
    assert [(c["majority"], c["share"]) for c in o2["components"]] == [(0, 0.5), (1, 1.0)]
    # a label with no category name: one line that says which labels were expected
    with pytest.raises(ValueError, match=r"overlap_measures: labels must be in 0\.\.1"):
        overlap_measures(lat, mu, torch.full_like(mu, 0.1), labels + 1, ["cat", "pig"])


def test_confusion_nmi_is_the_nmi_of_the_labelling_it_describes():
    """confusion_nmi from a confusion matrix equals sklearn's NMI on labels with that confusion, and splitting every
    group into two category-blind styles equals the NMI of the same sketches counted once per style."""
    from sklearn.metrics import normalized_mutual_info_score as nmi

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 600)
    decided = np.where(rng.random(600) < 0.8, truth, rng.integers(0, 3, 600))  # 80 % right, the rest at random
    confusion = np.zeros((3, 3))
    np.add.at(confusion, (truth, decided), 1)
    assert confusion_nmi(confusion) == pytest.approx(nmi(truth, decided), abs=1e-12)
    # each sketch twice, once in style 0 and once in style 1 of its group: the styles hold no category
    two = nmi(np.concatenate([truth, truth]), np.concatenate([2 * decided, 2 * decided + 1]))
    assert confusion_nmi(confusion, styles=2) == pytest.approx(two, abs=1e-12)
    assert confusion_nmi(confusion, styles=2) < confusion_nmi(confusion)
    assert confusion_nmi(np.eye(2) * 50) == pytest.approx(1.0)
    assert confusion_nmi(np.eye(2) * 50, styles=4) == pytest.approx(0.5)  # 2 ln 2 / (ln 2 + ln 2 + ln 4)
    assert confusion_nmi(np.full((2, 2), 25.0)) == pytest.approx(0.0, abs=1e-12)  # decisions that say nothing
    with pytest.raises(ValueError, match="non-negative"):
        confusion_nmi(-np.eye(2))


def test_cut_nmi_splits_each_group_by_the_decision():
    """Two pose groups that mix cats and pigs: cut by a right classifier they become four pure parts (NMI of a
    labelling that names the category, less the pose's entropy); cut by decisions that say nothing, NMI stays."""
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])  # cat cat pig pig in pose 0, then in pose 1
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert nmi(labels, groups) == pytest.approx(0.0, abs=1e-12)
    value, parts = cut_nmi(labels, groups, labels)
    assert parts == 4
    assert value == pytest.approx(nmi(labels, np.array([0, 0, 1, 1, 2, 2, 3, 3])), abs=1e-12)
    assert value == pytest.approx(2 * np.log(2) / (np.log(2) + np.log(4)))  # 2 I / (H(Y) + H(part)) = 2/3
    assert cut_nmi(labels, groups, np.zeros(8, dtype=int)) == (pytest.approx(0.0, abs=1e-12), 2)
    with pytest.raises(ValueError, match="must both be"):
        cut_nmi(labels, groups, labels[:4])
    with pytest.raises(ValueError, match="N > 0"):
        cut_nmi(labels[:0], groups[:0], labels[:0])


def test_affordable_error_inverts_the_bound_of_an_even_confusion():
    conf = even_confusion(5, 0.07)
    assert conf.sum() == pytest.approx(1.0) and np.allclose(conf.sum(1), 0.2)
    assert np.allclose(conf.diagonal(), 0.93 / 5) and np.allclose(conf[0, 1:], 0.07 / 4 / 5)
    target = confusion_nmi(conf, styles=2)
    assert affordable_error(5, 2, target) == pytest.approx(0.07, abs=1e-9)
    assert affordable_error(5, 1, target) > 0.07  # fewer Gaussians: the same NMI allows more errors
    assert affordable_error(2, 2, 0.7) is None  # above 2 ln 2 / (2 ln 2 + ln 2) = 2/3: not even a perfect labelling
    for bad in (lambda: even_confusion(1, 0.1), lambda: even_confusion(3, -0.1), lambda: affordable_error(3, 1, 0.0),
                lambda: confusion_nmi(np.eye(2), styles=0), lambda: confusion_nmi(np.ones(3))):
        with pytest.raises(ValueError, match="must|needs"):
            bad()


def test_overlap_within_factor_two_share():
    # 1-D, equal weights, means -1 and +1, unit variances: log(g_2 / g_1) = 2x, so the two posteriors are
    # within a factor of 2 exactly when |x| <= ln(2) / 2 = 0.3466
    lat = gmm([[-1.0], [1.0]], [[1.0], [1.0]], [0.5, 0.5])
    x = torch.tensor([[0.02], [0.1], [0.34], [0.35], [1.0], [-0.2], [-0.5], [-3.0]])
    o = overlap_measures(lat, x, torch.full_like(x, 0.01), [0, 0, 0, 1, 1, 0, 0, 0])
    assert o["ambiguous"] == pytest.approx(4 / 8)
    # unequal weights shift the boundary: alpha = (2/3, 1/3) -> log(g_2/g_1) = 2x - ln 2, within 2x for x in [0, ln 2]
    lat = gmm([[-1.0], [1.0]], [[1.0], [1.0]], [2 / 3, 1 / 3])
    o = overlap_measures(lat, x, torch.full_like(x, 0.01), [0] * 8)
    assert o["ambiguous"] == pytest.approx(4 / 8)  # 0.02, 0.1, 0.34, 0.35
    # the Bhattacharyya coefficient of these two: exp(-(2^2)/8) = exp(-0.5)
    assert o["bc_weighted"] == pytest.approx(math.exp(-0.5), rel=1e-6) and o["bc_max"] == o["bc_weighted"]


def test_code_structure_tells_codes_that_hold_the_category_from_codes_that_cluster_by_it():
    """Two categories along dimension 0 (offset +-1), and two far clusters along dimension 1 (+-20) that ignore
    the category: a linear probe reads the category, k-means with k = 2 finds the other split. Move the category
    onto the far clusters and both see it."""
    rng = np.random.default_rng(0)

    def codes(n, category_is_the_cluster):
        y = rng.integers(0, 2, n)
        cluster = y if category_is_the_cluster else rng.integers(0, 2, n)
        x = np.stack([np.where(y == 1, 1.0, -1.0), np.where(cluster == 1, 20.0, -20.0)], 1)
        return x + rng.normal(scale=0.3, size=(n, 2)), y

    (xf, yf), (x, y) = codes(400, False), codes(200, False)
    held = code_structure(xf, yf, x, y, n_clusters=(2, 4))
    assert held["probe"] > 0.95
    assert held["kmeans_nmi"][2] < 0.05 and set(held["kmeans_nmi"]) == {2, 4}
    assert held["kmeans_nmi"][4] > 0.5  # four clusters = the category x the far split
    (xf, yf), (x, y) = codes(400, True), codes(200, True)
    clustered = code_structure(torch.tensor(xf), yf, torch.tensor(x), y)
    assert clustered["probe"] > 0.95 and list(clustered["kmeans_nmi"]) == [2] and clustered["kmeans_nmi"][2] > 0.95
    with pytest.raises(ValueError, match="one category"):
        code_structure(xf, np.zeros(400), x, y)
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        code_structure(xf, yf, x[:, :1], y)


def test_overlap_dead_components_and_vae():
    lat = gmm([[0.0, 0.0], [0.0, 0.0], [9.0, 9.0]], [[1.0, 1.0]] * 3, [0.5, 1e-6, 0.5 - 1e-6])
    mu = torch.randn(30, 2)
    o = overlap_measures(lat, mu, torch.ones_like(mu), np.zeros(30, dtype=int))
    assert o["alive"] == 2 and o["bc_max"] == pytest.approx(math.exp(-162 / 8)), "the dead copy is ignored"
    vae = GMMLatent(2, 1, "vae")
    o = overlap_measures(vae, mu, torch.ones_like(mu), np.arange(30) % 2, ["a", "b"])
    assert o["K"] == 1 and o["bc_weighted"] is None and o["ambiguous"] is None and o["nmi"] == 0.0
    assert o["purity"] == 0.5 and o["components"][0]["n"] == 30
    with pytest.raises(ValueError, match="mu"):
        overlap_measures(vae, torch.zeros(5, 3), torch.zeros(5, 3), np.zeros(5))


# ----------------------------------------------------------------------------------------------
# end to end on a tiny checkpoint


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_run")
    data = prepare(["cat", "pig"], DATA, limit=32)
    Trainer(preset("tiny", max_steps=2), data=data, out_dir=out, device="cpu", progress=False, save_every=0).fit()
    return out / "last.pt"


def test_evaluate_end_to_end_and_classifier_cache(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "eval"
    r = ev.evaluate(tiny_run, DATA, out_dir=out, limit=32, classifier_epochs=1, progress=False)
    for name in ("report.json", "report.md", "tsne.png", "samples.png", "classifier.pt"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    saved = json.loads((out / "report.json").read_text())
    assert saved["rec"] == r["rec"] and saved["n_test"] == 64 == r["n_test"]
    assert 0.0 <= r["rec"] <= 1.0 and 0.0 <= r["classifier"]["test_acc"] <= 1.0
    rets = [r["ret"][f"ret@{k}"] for k in (1, 10, 50)]
    assert all(0.0 <= x <= 1.0 for x in rets) and rets == sorted(rets)
    assert 0.0 <= r["ret"]["mean_rank"] <= 63
    o = r["overlap"]
    assert o["K"] == 4 and 1 <= o["alive"] <= 4 and 1 <= o["used"] <= 4 and 0 <= o["nmi"] <= 1
    assert 0 <= o["bc_weighted"] <= o["bc_max"] <= 1 and 0 <= o["ambiguous"] <= 1 and 0.5 <= o["purity"] <= 1
    assert sum(c["n"] for c in o["components"]) == 64
    assert not r["classifier"]["cached"]
    md = (out / "report.md").read_text()
    assert "| Rec |" in md and "| Ret@50 |" in md
    cm = np.array(r["rec_confusion"])  # rows: the 32 test cats and 32 test pigs; the trace is Rec's hits
    assert cm.shape == (2, 2) and cm.sum(1).tolist() == [32, 32] and np.trace(cm) / 64 == pytest.approx(r["rec"])
    row = next(line for line in md.splitlines() if line.startswith("| pig | 32 |"))
    assert row == f"| pig | 32 | {cm[1, 1] / 32:.2f} | {cm[1, 0] / 32:.2f} | {cm[1, 1] / 32:.2f} |"

    # second call: the classifier comes from the cache (no retraining, file untouched)
    mtime = (out / "classifier.pt").stat().st_mtime_ns

    def no_training(*a, **k):
        raise AssertionError("the cached classifier should have been reused")

    monkeypatch.setattr(ev, "train_classifier", no_training)
    r2 = ev.evaluate(tiny_run, DATA, out_dir=out, limit=32, tsne=False, progress=False)
    assert r2["classifier"]["cached"] and (out / "classifier.pt").stat().st_mtime_ns == mtime
    assert r2["rec"] == r["rec"] and r2["ret"] == r["ret"], "same seed, same classifier: same scores"

    table = compare([r, r2])
    assert table.count("\n") == 4 and "Ret@10" in table and f"{r['rec']:.3f}" in table

    # a cache made for other categories is refused, naming both lists
    blob = torch.load(out / "classifier.pt", weights_only=True)
    blob["info"]["categories"] = ["pig", "cat"]
    blob.pop("sha256")
    save_checkpoint(blob, tmp_path / "other.pt")  # a real cache of other categories, with its own checksum
    with pytest.raises(ValueError, match=r"other\.pt.*\['pig', 'cat'\].*\['cat', 'pig'\]"):
        ev.evaluate(tiny_run, DATA, classifier_path=tmp_path / "other.pt", out_dir=out, limit=32, progress=False)
    blob["info"]["categories"] = ["cat", "pig"]
    torch.save({**blob, "sha256": "0" * 64}, tmp_path / "edited.pt")  # changed after its checksum was written
    with pytest.raises(ValueError, match=r"edited\.pt: damaged"):
        load_or_train_classifier(tmp_path / "edited.pt", prepare(["cat", "pig"], DATA, limit=4))
    torch.save({"x": 1}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="junk\\.pt: .*not an iapix checkpoint.*classifier cache"):
        load_or_train_classifier(tmp_path / "junk.pt", prepare(["cat", "pig"], DATA, limit=4))


def test_cli_evaluates_several_checkpoints(tiny_run, tmp_path, capsys):
    cache = tmp_path / "clf.pt"
    out = tmp_path / "cmp"
    args = ["evaluate", "--checkpoint", str(tiny_run), str(tiny_run), "--data", str(DATA), "--out", str(out),
            "--limit", "16", "--classifier", str(cache), "--classifier-epochs", "1", "--no-tsne"]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert "| run | objective |" in printed and printed.count("| ia |") == 2
    runs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(runs) == 2 and all((out / d / "report.json").is_file() for d in runs)
    assert (out / "compare.md").read_text().count("| ia |") == 2
    assert cache.is_file() and not (out / runs[0] / "classifier.pt").exists(), "one shared classifier"
    reports = [json.loads((out / d / "report.json").read_text()) for d in runs]
    assert reports[0]["n_test"] == 32 and not reports[0]["classifier"]["cached"] and reports[1]["classifier"]["cached"]
    cm = np.array(reports[0]["rec_confusion"])  # the printed line gives Rec on each source category
    assert f"(cat {cm[0, 0] / cm[0].sum():.2f}, pig {cm[1, 1] / cm[1].sum():.2f})" in printed
