"""`sentitrade sentiment score|eval`: score headlines by hand, measure a scorer on labels.

Registered by `bot/cli.py` as `app.add_typer(sentiment.cli.app, name="sentiment")`.
Module imports stay light (typer only); scorers import torch/openai when built.
Settings come from `settings_provider`, which `bot/cli.py` may point at the loaded
`Settings().sentiment`; by default the built-in defaults are used.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from sentiment.config import SentimentSettings
from sentiment.errors import SentimentError
from sentiment.items import Scorer

__all__ = ["app", "settings_provider"]

app = typer.Typer(
    help="Score headlines and evaluate scorers.", no_args_is_help=True, add_completion=False
)

settings_provider: Callable[[], SentimentSettings] = SentimentSettings
"""Where the CLI gets the `[sentiment]` section; `bot/cli.py` may replace it."""

_SCORERS = ("lexicon", "rules", "finbert", "openai", "ensemble")


def _fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def _build(name: str | None, model: str | None) -> Scorer:
    from sentiment.scorers import make_scorer

    if name is not None and name not in _SCORERS:
        raise typer.BadParameter(
            f"unknown scorer {name!r} (choose from {', '.join(_SCORERS)})", param_hint="--scorer"
        )
    settings = settings_provider()
    if model:
        settings = settings.model_copy(update={"model": model})
    try:
        return make_scorer(name, settings)
    except SentimentError as exc:
        raise _fail(f"cannot build scorer {name or settings.scorer!r}: {exc}", 1) from None


@app.command("score")
def score_cmd(
    headlines: list[str] = typer.Argument(
        None, help="Headlines to score; none (or '-') reads one per line from stdin."
    ),
    scorer: str = typer.Option(None, "--scorer", "-s",
                               help="lexicon|rules|finbert|openai|ensemble"),
    model: str = typer.Option(None, "--model", help="FinBERT hub id or local path"),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Print each headline's Score: label, score, confidence, event type, impact, symbols."""
    texts = [h for h in (headlines or []) if h != "-"]
    if not texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise _fail("no headlines given (pass them as arguments or on stdin)")
        texts = [line.strip() for line in sys.stdin if line.strip()]
        if not texts:
            raise _fail("no headlines on stdin")
    sc = _build(scorer, model)
    try:
        scores = sc.score(texts)
    except SentimentError as exc:
        raise _fail(f"scoring failed: {exc}", 1) from None
    for text, s in zip(texts, scores, strict=True):
        if json_out:
            typer.echo(json.dumps({"text": text, **s.as_dict()}, ensure_ascii=False))
        else:
            syms = ",".join(s.symbols) or "-"
            typer.echo(
                f"{s.label:<8} {s.score:+.3f} conf={s.confidence:.2f} "
                f"event={s.event_type} impact={s.impact} symbols={syms}  {text}"
            )


@app.command("eval")
def eval_cmd(
    data: Path = typer.Option(..., "--data", help="Labelled file (PhraseBank or CSV)."),
    fmt: str = typer.Option(None, "--format",
                            help="phrasebank|csv|jsonl (default: by extension)"),
    text_col: str = typer.Option("text", "--text-col", help="CSV text column"),
    label_col: str = typer.Option("label", "--label-col", help="CSV label column"),
    label_map: str = typer.Option(
        None, "--label-map", help="RAW=LABEL pairs, e.g. '0=negative,1=positive,2=neutral'"),
    scorer: str = typer.Option(None, "--scorer", "-s",
                               help="lexicon|rules|finbert|openai|ensemble"),
    model: str = typer.Option(None, "--model", help="FinBERT hub id or local path"),
    train_prior: bool = typer.Option(
        False, "--train-prior",
        help="lexicon: treat every text as finance text (no crypto class bias and "
             "temperature)"),
    encoding: str = typer.Option(None, "--encoding", help="Default: detect UTF-8 vs Latin-1"),
    limit: int = typer.Option(0, "--limit", min=0, help="Only the first N rows (0 = all)"),
    event_col: str = typer.Option(None, "--event-col",
                                  help="CSV/JSONL column of hand-labelled event types"),
    tickers_col: str = typer.Option(None, "--tickers-col",
                                    help="Column of reference tickers ('|'-separated)"),
    tags_col: str = typer.Option(None, "--tags-col",
                                 help="Columns of archive tags/category ('a,b'; '|' inside)"),
    compare: str = typer.Option(
        None, "--compare",
        help="Another scorer on the same rows: macro-F1/accuracy difference with a paired "
             "bootstrap 95% interval"),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
) -> None:
    """Accuracy, macro-F1, per-class precision/recall, confusion matrix, calibration
    (expected calibration error and reliability bins), headlines/s."""
    from sentiment.evaluate import DataError, evaluate, load_dataset, parse_label_map

    if fmt is not None and fmt not in ("phrasebank", "csv", "jsonl"):
        raise typer.BadParameter(f"unknown format {fmt!r} (phrasebank|csv|jsonl)",
                                 param_hint="--format")
    if not data.is_file():
        raise _fail(f"--data {data}: no such file")
    try:
        lmap = parse_label_map(label_map) if label_map else None
        rows = load_dataset(data, fmt, text_col, label_col, encoding,  # type: ignore[arg-type]
                            lmap)
    except DataError as exc:
        raise _fail(str(exc)) from None
    if limit:
        rows = rows[:limit]
    sc = _build(scorer, model)
    if train_prior and sc.name == "lexicon":
        from sentiment.headline import HeadlineScorer

        if isinstance(sc, HeadlineScorer):
            sc = HeadlineScorer(adapt_prior=False)
    try:
        sc.score(["warm-up"])  # model load and first-call costs are not throughput
        if not json_out and sys.stdout.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"scoring with {sc.name}", total=len(rows))
                report = evaluate(sc, rows, progress=lambda k: bar.advance(task, k))
        else:
            report = evaluate(sc, rows)
    except SentimentError as exc:
        raise _fail(f"scoring failed: {exc}", 1) from None
    report.extra["data"] = str(data)
    if compare:
        from sentiment.evaluate import paired_bootstrap

        other = _build(compare, model)
        try:
            theirs = [s.label for s in other.score([t for t, _ in rows])]
        except SentimentError as exc:
            raise _fail(f"scoring with {compare} failed: {exc}", 1) from None
        report.extra["compare"] = {"scorer": compare, **paired_bootstrap(
            [lab for _, lab in rows], report.predictions, theirs)}
    checks: dict[str, object] = {}
    if event_col or tickers_col or tags_col:
        from sentiment.evalcols import column_checks

        try:
            checks = column_checks(sc, data, text_col, event_col, tickers_col, tags_col,
                                   encoding, limit)
        except DataError as exc:
            raise _fail(str(exc)) from None
    if json_out:
        typer.echo(json.dumps({**report.as_dict(), **checks, "data": str(data)}))
        return
    typer.echo(f"scorer: {report.scorer}   data: {data}   n={report.n}")
    typer.echo(f"accuracy: {report.accuracy:.4f}   macro-F1: {report.macro_f1:.4f}")
    typer.echo(f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for c, m in report.per_class.items():
        typer.echo(
            f"{c:<10}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}"
            f"{int(m['support']):>10d}"
        )
    labels = list(report.confusion)
    typer.echo("confusion (rows = true, columns = predicted):")
    typer.echo(f"{'':<10}" + "".join(f"{p:>10}" for p in labels))
    for t in labels:
        typer.echo(f"{t:<10}" + "".join(f"{report.confusion[t][p]:>10d}" for p in labels))
    cal = report.extra.get("calibration")
    if isinstance(cal, dict):
        typer.echo(f"calibration: ECE {cal['ece']:.4f}  mean confidence "
                   f"{cal['mean_confidence']:.4f} vs accuracy {cal['accuracy']:.4f}")
        typer.echo(f"{'confidence bin':<16}{'n':>6}{'mean conf':>11}{'accuracy':>10}")
        for b in cal["bins"]:
            typer.echo(f"{b['lo']:.1f}-{b['hi']:.1f}{'':<9}{int(b['n']):>6d}"
                       f"{b['confidence']:>11.4f}{b['accuracy']:>10.4f}")
    typer.echo(f"throughput: {report.headlines_per_s:,.0f} headlines/s ({report.seconds:.3f} s)")
    cmp_ = report.extra.get("compare")
    if isinstance(cmp_, dict):
        typer.echo(
            f"vs {cmp_['scorer']}: macro-F1 {cmp_['macro_f1_diff']:+.4f} (95% CI "
            f"{cmp_['macro_f1_lo']:+.4f} .. {cmp_['macro_f1_hi']:+.4f}, not better in "
            f"{cmp_['p_not_better']:.1%} of {cmp_['resamples']} paired resamples); accuracy "
            f"{cmp_['accuracy_diff']:+.4f} ({cmp_['accuracy_lo']:+.4f} .. "
            f"{cmp_['accuracy_hi']:+.4f})")
    if checks:
        from sentiment.evalcols import print_checks

        print_checks(checks, typer.echo)


_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
_TESTDATA = Path(__file__).resolve().parents[1] / "tests" / "sentiment" / "data"


@app.command("train")
def train_cmd(
    data: Path = typer.Option(
        _SHARED / "sentiment" / "twitter_financial_news" / "sent_train.csv", "--data",
        help="Twitter Financial News train split (text,label; 0 bear, 1 bull, 2 neutral)."),
    unlabelled: Path = typer.Option(
        _SHARED / "news" / "crypto_headlines_2025.jsonl.gz", "--unlabelled",
        help="Unlabelled crypto headlines (.jsonl.gz) for prior adaptation and "
             "self-training; '-' to skip."),
    crypto_labelled: list[Path] = typer.Option(
        [_TESTDATA / "crypto_headlines_dev.csv", _TESTDATA / "crypto_headlines_dev2.csv"],
        "--crypto-labelled",
        help="Hand-labelled crypto CSVs (title,label) to train on (repeatable; never the "
             "test file)."),
    exclude: list[Path] = typer.Option(
        [_TESTDATA / "crypto_headlines_labelled.csv"], "--exclude",
        help="CSVs (title column) whose headlines are kept out of self-training "
             "(repeatable): the frozen test sample."),
    out: Path = typer.Option(None, "--out", help="Default: the packaged model file."),
    lexicon_weight: float = typer.Option(2.0, "--lexicon-weight", min=0.0),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable JSON report."),
) -> None:
    """Fit the shipped headline model (deterministic; see sentiment/model/MODEL_CARD.md)."""
    from sentiment.linear import DEFAULT_MODEL
    from sentiment.train import TrainConfig, train

    if not data.is_file():
        raise _fail(f"--data {data}: no such file")
    crypto = None if str(unlabelled) == "-" else unlabelled
    if crypto is not None and not crypto.is_file():
        raise _fail(f"--unlabelled {crypto}: no such file")
    for p in (*crypto_labelled, *exclude):
        if not p.is_file():
            raise _fail(f"{p}: no such file (pass --crypto-labelled/--exclude explicitly)")
    if any(p.resolve() in {e.resolve() for e in exclude} for p in crypto_labelled):
        raise _fail("a --crypto-labelled file is also in --exclude (never train on the test)")
    log = (lambda _m: None) if json_out else typer.echo
    model, report = train(data, crypto, TrainConfig(lexicon_weight=lexicon_weight), log=log,
                          crypto_labelled=crypto_labelled, exclude=exclude)
    target = out or DEFAULT_MODEL
    model.save(target)
    report["out"] = str(target)
    if json_out:
        typer.echo(json.dumps(report))
    else:
        typer.echo(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")


def main() -> None:  # pragma: no cover - convenience for `python -m sentiment.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
