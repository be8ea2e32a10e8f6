"""`sentitrade sentiment score|eval` and the metrics behind eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentiment.cli import app
from sentiment.evaluate import DataError, load_phrasebank, metrics, normalise_label

runner = CliRunner()


def test_metrics_hand_computed() -> None:
    truth = ["positive", "positive", "negative", "neutral", "neutral", "neutral"]
    pred = ["positive", "neutral", "negative", "neutral", "positive", "neutral"]
    acc, macro, per, conf = metrics(truth, pred)  # type: ignore[arg-type]
    assert acc == pytest.approx(4 / 6)
    assert per["positive"]["precision"] == pytest.approx(0.5)
    assert per["positive"]["recall"] == pytest.approx(0.5)
    assert per["neutral"]["precision"] == pytest.approx(2 / 3)
    assert per["negative"]["f1"] == pytest.approx(1.0)
    assert macro == pytest.approx((0.5 + 1.0 + 2 / 3) / 3)
    assert conf["neutral"]["positive"] == 1 and conf["positive"]["neutral"] == 1


@pytest.mark.parametrize(
    ("raw", "want"),
    [("Positive", "positive"), ("1", "positive"), ("-1", "negative"), ("0", "neutral"),
     ("bullish", "positive"), ("BEARISH", "negative")],
)
def test_label_aliases(raw: str, want: str) -> None:
    assert normalise_label(raw) == want


def test_phrasebank_latin1_detected(tmp_path: Path) -> None:
    f = tmp_path / "pb.txt"
    text = "Sepp\xe4l\xe4 sales rose 5 % .@positive\nNo change .@neutral\n"
    f.write_bytes(text.encode("latin-1"))
    rows = load_phrasebank(f)
    assert rows[0] == ("Seppälä sales rose 5 % .", "positive")
    with pytest.raises(DataError, match="cannot decode"):
        load_phrasebank(f, encoding="utf-8")


def write_csv(tmp_path: Path) -> Path:
    f = tmp_path / "crypto.csv"
    f.write_text(
        "headline,sentiment\n"
        '"Exchange hacked, $40M stolen",bearish\n'
        "SEC approves spot ETF,bullish\n"
        "Bitcoin conference opens in Lisbon,0\n"
        "Ether plunges 15%,-1\n",
        encoding="utf-8",
    )
    return f


def test_eval_csv_json(tmp_path: Path) -> None:
    f = write_csv(tmp_path)
    r = runner.invoke(app, ["eval", "--data", str(f), "--text-col", "headline",
                            "--label-col", "sentiment", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    # Plumbing test (columns, label aliases): the three headlines with a clear tone must be
    # right; the neutral conference item is a coin toss for the crypto-prior default.
    assert out["n"] == 4 and out["accuracy"] >= 0.75
    assert out["confusion"]["negative"]["negative"] == 2
    assert out["confusion"]["positive"]["positive"] == 1
    assert 0.0 <= out["calibration"]["ece"] <= 1.0
    assert out["headlines_per_s"] > 0


def test_eval_human_output(tmp_path: Path) -> None:
    r = runner.invoke(app, ["eval", "--data", str(write_csv(tmp_path)), "--text-col",
                            "headline", "--label-col", "sentiment"])
    assert r.exit_code == 0, r.output
    for word in ("accuracy:", "macro-F1:", "precision", "recall", "confusion", "headlines/s"):
        assert word in r.stdout


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["eval", "--data", "/no/such/file"], "no such file"),
        (["eval", "--data", "{csv}", "--text-col", "nope"], "no column 'nope'"),
        (["eval", "--data", "{csv}", "--format", "xml"], "unknown format"),
        (["eval", "--data", "{bad}"], "unknown label"),
        (["score", "x", "--scorer", "nope"], "unknown scorer"),
    ],
)
def test_bad_input_one_line_nonzero(tmp_path: Path, args: list[str], msg: str) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("Some sentence@maybe\n", encoding="utf-8")
    args = [a.format(csv=write_csv(tmp_path), bad=bad) for a in args]
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert msg in r.output
    assert "Traceback" not in r.output


def test_score_prints_each_score() -> None:
    r = runner.invoke(app, ["score", "Bitcoin plunges 20% after hack", "SEC approves ETF",
                            "--json"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["label"] for x in lines] == ["negative", "positive"]
    assert lines[0]["event_type"] == "hack/exploit" and lines[0]["symbols"] == ["BTC"]
    plain = runner.invoke(app, ["score", "Ether rallies"])
    assert plain.exit_code == 0 and plain.stdout.startswith("positive")


def test_score_from_stdin() -> None:
    r = runner.invoke(app, ["score", "--json"], input="SEC sues exchange\n\nSolana soars\n")
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["label"] for x in r.stdout.splitlines()] == ["negative", "positive"]


def test_eval_phrasebank_cli(phrasebank: Path) -> None:
    r = runner.invoke(app, ["eval", "--data", str(phrasebank / "Sentences_AllAgree.txt"),
                            "--format", "phrasebank", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 2264 and out["accuracy"] >= 0.75 and out["macro_f1"] >= 0.70


def test_evaluate_reports_progress() -> None:
    from sentiment.evaluate import evaluate
    from sentiment.lexicon import LexiconScorer

    rows = [("Bitcoin rallies", "positive")] * 600
    steps: list[int] = []
    rep = evaluate(LexiconScorer(), rows, batch=256, progress=steps.append)  # type: ignore[arg-type]
    assert steps == [256, 256, 88] and rep.n == 600 and rep.accuracy == 1.0


def test_cli_import_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, sentiment.cli; "
            "print([m for m in ('torch', 'transformers', 'openai', 'httpx') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "[]"


def test_paired_bootstrap() -> None:
    from sentiment.evaluate import paired_bootstrap

    truth = ["positive", "negative", "neutral"] * 40
    same = paired_bootstrap(truth, truth, truth, resamples=200)  # type: ignore[arg-type]
    assert same["macro_f1_diff"] == 0 and same["macro_f1_lo"] == same["macro_f1_hi"] == 0
    worse = ["neutral"] * len(truth)
    d = paired_bootstrap(truth, truth, worse, resamples=200)  # type: ignore[arg-type]
    assert d["macro_f1_lo"] > 0.5 and d["p_not_better"] == 0 and d["accuracy_diff"] > 0.6
    assert d == paired_bootstrap(truth, truth, worse, resamples=200)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        paired_bootstrap(truth, truth[:3], truth)  # type: ignore[arg-type]


def test_eval_compare_prints_the_interval(tmp_path: Path) -> None:
    f = write_csv(tmp_path)
    r = runner.invoke(app, ["eval", "--data", str(f), "--text-col", "headline",
                            "--label-col", "sentiment", "--compare", "rules"])
    assert r.exit_code == 0, r.output
    assert "vs rules: macro-F1" in r.stdout and "95% CI" in r.stdout
    j = runner.invoke(app, ["eval", "--data", str(f), "--text-col", "headline",
                            "--label-col", "sentiment", "--compare", "rules", "--json"])
    assert json.loads(j.stdout)["compare"]["scorer"] == "rules"
