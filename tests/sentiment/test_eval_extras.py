"""Calibration, label maps, JSONL input, event/symbol checks and `sentiment train`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentiment.calibration import reliability
from sentiment.cli import app
from sentiment.crosscheck import archive_agreement, event_report, symbol_report
from sentiment.evaluate import DataError, load_dataset, parse_label_map
from sentiment.features import dense_batch, dense_features, index, sparse_features, tokens
from sentiment.linear import default_model

runner = CliRunner()
DATA = Path(__file__).parent / "data"


def test_reliability_hand_computed() -> None:
    conf = [0.95, 0.95, 0.55, 0.55]
    ok = [True, False, True, True]
    r = reliability(conf, ok, bins=10)
    # bin 0.9: acc 0.5 vs 0.95; bin 0.5: acc 1.0 vs 0.55 -> ECE = 0.5*0.45 + 0.5*0.45
    assert r["ece"] == pytest.approx(0.45)
    assert [b["n"] for b in r["bins"]] == [2, 2]  # type: ignore[index]
    with pytest.raises(ValueError):
        reliability([0.5], [True, False])


def test_label_map_and_jsonl(tmp_path: Path) -> None:
    f = tmp_path / "d.jsonl"
    f.write_text('{"t": "Bitcoin soars", "y": 1}\n\n{"t": "Exchange hacked", "y": 0}\n',
                 encoding="utf-8")
    m = parse_label_map("0=negative, 1=positive, 2=neutral")
    assert load_dataset(f, None, "t", "y", None, m) == [
        ("Bitcoin soars", "positive"), ("Exchange hacked", "negative")]
    # without the map, "0" reads as neutral (the built-in alias)
    assert load_dataset(f, "jsonl", "t", "y")[1][1] == "neutral"
    with pytest.raises(DataError, match="RAW=LABEL"):
        parse_label_map("0negative")
    with pytest.raises(DataError, match="unknown label"):
        parse_label_map("0=meh")


def test_eval_cli_label_map_and_calibration(tmp_path: Path) -> None:
    f = tmp_path / "tw.csv"
    f.write_text("text,label\nSolana soars 20% to record high,1\nExchange hacked,0\n",
                 encoding="utf-8")
    r = runner.invoke(app, ["eval", "--data", str(f), "--label-map",
                            "0=negative,1=positive,2=neutral"])
    assert r.exit_code == 0, r.output
    assert "calibration: ECE" in r.stdout and "confidence bin" in r.stdout
    assert "accuracy: 1.0000" in r.stdout


def test_eval_cli_event_and_symbol_columns() -> None:
    f = DATA / "crypto_headlines_labelled.csv"
    r = runner.invoke(app, ["eval", "--data", str(f), "--text-col", "title", "--limit", "60",
                            "--event-col", "event_type", "--tickers-col", "archive_tickers",
                            "--tags-col", "archive_tags,archive_category", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 60 and set(out["events"]["per_type"]) >= {"hack/exploit", "market"}
    assert set(out["symbols"]) == {"BTC", "ETH", "SOL", "XRP", "BNB"}
    assert "hack/exploit" in out["archive_agreement"]
    bad = runner.invoke(app, ["eval", "--data", str(f), "--text-col", "title",
                              "--event-col", "nope"])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output


def test_crosscheck_metrics() -> None:
    ev = event_report(["market", "market", "none"], ["market", "none", "none"])
    assert ev["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert ev["per_type"]["market"]["precision"] == 0.5  # type: ignore[index]
    ag = archive_agreement(["hack/exploit", "market"], [frozenset({"hack"}), frozenset()])
    assert ag["hack/exploit"]["share"] == 1.0 and ag["market"]["share"] == 0.0  # type: ignore[index]
    sy = symbol_report(["a", "b", "c"], [("BTC",), (), ("BTC", "ETH")],
                       [("BTC",), ("BTC",), ("ETH",)], symbols=("BTC", "ETH"))
    assert sy["BTC"]["precision"] == 0.5 and sy["BTC"]["recall"] == 0.5  # type: ignore[index]
    assert sy["BTC"]["only_ours"] == ["c"] and sy["BTC"]["only_archive"] == ["b"]  # type: ignore[index]


def test_features_placeholders_and_fast_path_agree() -> None:
    assert tokens("$BTC +12% to $100k, Solana -3% https://t.co/x") == [
        "<tag>", "<pct+>", "to", "<money>", "<coin>", "<pct->"]
    m = default_model()
    for t in ["Bitcoin surges 12% as ETF inflows hit record", "SEC sues exchange", "",
              "Ether’s rally: whales buy the dip again and again"]:
        from sentiment.features import feature_ids

        assert sorted(feature_ids(t, m.vocab)) == sorted(set(index(sparse_features(t),
                                                                   m.vocab)))
    assert dense_batch([0.5, -0.4], ["market", "none"], [True, False]).tolist() == [
        dense_features(0.5, "market", True), dense_features(-0.4, "none")]


def test_crypto_domain_gate() -> None:
    from sentiment.features import crypto_domain

    for t in ["Tezos rallies into the top ten cryptocurrencies", "Whales dump PEPE",
              "Binance lists three tokens", "'Bitcoin' is back", "Ethereum-based DEX"]:
        assert crypto_domain(t), t
    for t in ["Apple shares rise after earnings", "Fed holds rates", "the link near term",
              "BlackRock slashes stake in Peabody Energy"]:
        assert not crypto_domain(t), t
    assert crypto_domain("Acme rallies", ("ACME",))  # a coin the rules tagged


def test_train_cli_writes_a_loadable_model(tmp_path: Path) -> None:
    f = tmp_path / "train.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for i in range(20):
            w.writerows([(f"stock {i} soars on record profit", 1),
                         (f"stock {i} plunges after loss", 0), (f"meeting {i} on friday", 2)])
    crypto = tmp_path / "crypto.csv"
    with crypto.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "label"])
        for i in range(10):
            w.writerows([(f"Solana {i} soars to record", "positive"),
                         (f"Bitcoin {i} plunges as exchange hacked", "negative"),
                         (f"Ethereum {i} daily puzzle answers", "neutral")])
    test = tmp_path / "test.csv"
    test.write_text("title,label\nBitcoin soars,positive\n", encoding="utf-8")
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", "--data", str(f), "--unlabelled", "-", "--out", str(out),
                            "--crypto-labelled", str(crypto), "--exclude", str(test), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["rows"] == 60 and rep["out"] == str(out) and out.is_file()
    assert rep["crypto_labelled"] == 30 and rep["crypto_weight"] in (2.0, 4.0)
    from sentiment.linear import LinearModel

    back = LinearModel.load(out)
    assert back.vocab and back.crypto_temperature
    same = runner.invoke(app, ["train", "--data", str(f), "--unlabelled", "-", "--out",
                               str(out), "--crypto-labelled", str(test), "--exclude", str(test)])
    assert same.exit_code == 2 and "never train on the test" in same.output
    missing = runner.invoke(app, ["train", "--data", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
