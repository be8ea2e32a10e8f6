"""The bench command's plumbing (speed is reported by the bench, never asserted here)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from sentiment.bench import cli, headlines

app = typer.Typer()
app.command()(cli)


def test_headlines_distinct_and_deterministic() -> None:
    h = headlines(500)
    assert len(set(h)) == 500 and h == headlines(500)


def test_bench_lexicon_json() -> None:
    r = CliRunner().invoke(app, ["--only", "lexicon", "--lexicon-n", "300", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    (lex,) = out["results"]
    assert lex["scorer"] == "lexicon" and lex["headlines"] == 300
    assert lex["headlines_per_s"] > 0 and lex["headlines_per_cpu_s"] > 0


def test_bench_bad_option() -> None:
    r = CliRunner().invoke(app, ["--only", "nope"])
    assert r.exit_code == 2 and "unknown scorer" in r.output
