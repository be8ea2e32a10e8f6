"""Settings of the sentiment pipeline.

Lives in `sentiment` (not `engine.config`) because `sentiment` must never import
`engine`; `engine.config.Settings` embeds this model as its `[sentiment]` section.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ScorerName = Literal["lexicon", "finbert", "openai", "ensemble"]

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
    sources: list[Literal["rss", "cryptopanic", "reddit"]] = Field(default_factory=lambda: ["rss"])
    rss_feeds: list[str] = Field(default_factory=lambda: list(DEFAULT_RSS_FEEDS))
    cryptopanic_token: SecretStr | None = None
    subreddits: list[str] = Field(default_factory=lambda: ["CryptoCurrency", "Bitcoin", "ethereum"])
    poll_seconds: int = Field(default=300, ge=10)
