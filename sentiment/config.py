"""Settings of the sentiment pipeline.

Lives in `sentiment` (not `engine.storage.config`) because `sentiment` must never import
`engine`; `engine.storage.config.Settings` embeds this model as its `[sentiment]` section.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

ScorerName = Literal["lexicon", "rules", "finbert", "openai", "ensemble"]
SourceName = Literal["rss", "cryptopanic", "reddit"]


def _default_sources() -> list[SourceName]:
    return ["rss"]


def _default_ensemble() -> dict[ScorerName, float]:
    return {"lexicon": 0.4, "finbert": 0.6}

DEFAULT_SOURCE_WEIGHTS: dict[str, float] = {
    # the defaults for social sources...
    "twitter": 0.35,
    "reddit": 0.25,
    "telegram": 0.20,
    "trends": 0.20,
    # ...and news, which the shipped sources fetch; renormalised over the kinds present.
    "rss": 0.20,
    "cryptopanic": 0.20,
    "demo": 0.20,
}

DEFAULT_RSS_FEEDS: tuple[str, ...] = (
    "https://www.coindesk.com/arc/outboundfeeds/rss/",
    "https://cointelegraph.com/rss",
    "https://decrypt.co/feed",
    "https://bitcoinmagazine.com/.rss/full/",
)


class SentimentSettings(BaseModel):
    """The `[sentiment]` section: which scorer, which sources, how scores decay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scorer: ScorerName = "lexicon"
    model: str = Field(default="ProsusAI/finbert", description="FinBERT hub id or local path")
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    half_life_minutes: float = Field(default=120.0, gt=0)
    sources: list[SourceName] = Field(default_factory=_default_sources)
    rss_feeds: list[str] = Field(default_factory=lambda: list(DEFAULT_RSS_FEEDS))
    cryptopanic_token: SecretStr | None = None
    subreddits: list[str] = Field(default_factory=lambda: ["CryptoCurrency", "Bitcoin", "ethereum"])
    poll_seconds: int = Field(default=300, ge=10)

    # --- sources -------------------------------------------------------------------
    cryptopanic_base_url: str = "https://cryptopanic.com/api/developer/v2"
    reddit_base_url: str = "https://www.reddit.com"
    user_agent: str = "sentitrade/0.1 (+https://github.com/sentitrade)"
    http_timeout_s: float = Field(default=10.0, gt=0)
    http_retries: int = Field(default=3, ge=0, le=10, description="retries on 5xx/timeouts/429")
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    retry_after_max_s: float = Field(
        default=60.0, ge=0, description="longest Retry-After honoured inside one poll"
    )
    max_response_bytes: int = Field(default=5_000_000, gt=0)
    rate_limit_per_minute: float = Field(default=30.0, gt=0, description="per source")
    max_items_per_source: int = Field(default=100, gt=0)
    symbol_aliases: dict[str, list[str]] = Field(
        default_factory=dict, description="extra/overriding symbol -> names, e.g. {PEPE=[pepe]}"
    )

    # --- lexicon ----------------------------------------------------------------------
    extra_lexicon: dict[str, float] = Field(
        default_factory=dict, description="word -> valence (VADER scale, about -4..4)"
    )

    # --- finbert ----------------------------------------------------------------------
    batch_size: int = Field(default=32, ge=1, le=1024)
    max_length: int = Field(default=128, ge=8, le=512)
    torch_threads: int = Field(default=0, ge=0, description="0 = torch's default")
    quantize: bool = Field(default=False, description="int8 dynamic quantisation (CPU)")
    finbert_runtime: Literal["torch", "onnx"] = Field(
        default="torch", description="onnx = exported once, run by ONNX Runtime (with "
        "quantize: int8 weights)")
    onnx_cache_dir: str = Field(
        default="", description="where exported ONNX files are kept; '' = "
        "~/.cache/sentitrade/onnx")

    # --- openai -----------------------------------------------------------------------
    openai_timeout_s: float = Field(default=30.0, gt=0)
    openai_max_retries: int = Field(default=2, ge=0, le=10)
    openai_batch_size: int = Field(default=20, ge=1, le=200, description="headlines/request")
    openai_daily_requests: int = Field(default=500, ge=0, description="0 = no request budget")
    openai_daily_tokens: int = Field(default=500_000, ge=0, description="0 = no token budget")
    openai_fallback: bool = Field(default=True, description="fall back to lexicon on failure")
    openai_cache_size: int = Field(default=10_000, ge=0)

    # --- ensemble and aggregation -----------------------------------------------------
    ensemble_weights: dict[ScorerName, float] = Field(default_factory=_default_ensemble)
    source_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS)
    )
    label_threshold: float = Field(default=0.3, gt=0, lt=1, description="BULLISH/BEARISH at +-")
    lookback_half_lives: float = Field(
        default=8.0, gt=0, description="items older than this many half-lives are ignored"
    )

    @field_validator("source_weights", "ensemble_weights")
    @classmethod
    def _non_negative(cls, v: dict[Any, float]) -> dict[Any, float]:
        bad = [k for k, w in v.items() if not w >= 0]
        if bad:
            raise ValueError(f"weights must be >= 0: {', '.join(map(str, bad))}")
        return v

    @field_validator("ensemble_weights")
    @classmethod
    def _no_nested_ensemble(cls, v: dict[Any, float]) -> dict[Any, float]:
        if "ensemble" in v:
            raise ValueError("ensemble_weights cannot include 'ensemble'")
        if not any(w > 0 for w in v.values()):
            raise ValueError("ensemble_weights needs at least one positive weight")
        return v
