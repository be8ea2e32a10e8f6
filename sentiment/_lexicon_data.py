"""Word lists of the lexicon scorer: crypto and finance knowledge written for this project.

Valences use VADER's scale (about -4..+4). Tables, not code, so a reviewer can read what
the scorer believes. Kept apart from `lexicon.py` so the rules read on one screen.
"""

from __future__ import annotations

# --- domain valences: override VADER for these tokens ---------------------------------
# Crypto and finance words whose tone VADER lacks or gets wrong.
DOMAIN_VALENCE: dict[str, float] = {
    # security incidents
    "hack": -3.0, "hacked": -3.2, "hacks": -3.0, "hacker": -2.6, "hackers": -2.6,
    "exploit": -3.0, "exploited": -3.2, "exploits": -3.0, "exploiter": -2.6,
    "breach": -2.6, "breached": -2.8, "drained": -3.0, "drains": -2.6, "stolen": -3.0,
    "steal": -2.6, "stole": -2.8, "theft": -3.0, "heist": -3.0, "phishing": -2.4,
    "compromised": -2.6, "vulnerability": -1.8, "vulnerabilities": -1.8, "ransomware": -2.6,
    "rugpull": -3.2, "rugged": -2.8, "ponzi": -3.0, "scam": -3.0, "scams": -2.8,
    "scammer": -2.6, "scammers": -2.6, "fraud": -3.0, "fraudulent": -3.0, "laundering": -2.6,
    "manipulation": -2.0, "insider": -0.8,
    # legal / regulatory negatives
    "lawsuit": -2.4, "lawsuits": -2.4, "sues": -2.4, "sued": -2.4, "suing": -2.2,
    "charges": -1.8, "charged": -2.2, "indicted": -2.8, "indictment": -2.6,
    "subpoena": -1.8, "subpoenas": -1.8, "probe": -1.6, "probes": -1.6,
    "investigation": -1.4, "investigating": -1.2, "crackdown": -2.6, "ban": -2.8,
    "bans": -2.8, "banned": -2.8, "banning": -2.6, "outlaw": -2.6, "outlaws": -2.6,
    "illegal": -2.4, "unregistered": -2.0, "sanctions": -1.8, "sanctioned": -2.2,
    "fine": -0.6, "fined": -2.4, "penalty": -2.0, "penalties": -2.0, "delist": -3.0,
    "delists": -3.0, "delisted": -3.0, "delisting": -3.0, "delistings": -2.8,
    "rejects": -2.4, "rejected": -2.4, "rejection": -2.4, "denies": -1.6, "denied": -2.0,
    "delays": -1.8, "delayed": -1.8, "delay": -1.6, "postpones": -1.6, "postponed": -1.6,
    "halts": -2.2, "halted": -2.4, "halt": -2.0, "suspends": -2.2, "suspended": -2.2,
    "freezes": -2.2, "frozen": -2.0, "seized": -2.2, "seizes": -2.2, "arrested": -2.6,
    "arrest": -2.4, "jailed": -2.6, "guilty": -2.6, "sentenced": -2.4, "warns": -1.6,
    "warning": -1.8, "warned": -1.6,
    # distress
    "insolvency": -3.2, "insolvent": -3.2, "bankruptcy": -3.4, "bankrupt": -3.4,
    "liquidation": -2.4, "liquidations": -2.0, "liquidated": -2.2, "default": -2.4,
    "defaults": -2.4, "defaulted": -2.8, "collapse": -3.0, "collapses": -3.0,
    "collapsed": -3.0, "depeg": -3.0, "depegs": -3.0, "depegged": -3.0, "depegging": -3.0,
    "outage": -2.2, "outages": -2.2, "downtime": -1.8, "bug": -1.4, "glitch": -1.6,
    "layoffs": -2.4, "layoff": -2.4, "redundancies": -2.2, "lays": -0.8,
    "shutdown": -2.2, "shuts": -1.8, "closure": -1.8, "closes": -0.6, "closing": -0.4,
    "dump": -2.0, "dumps": -2.0, "dumping": -2.0, "capitulation": -2.4, "selloff": -2.4,
    "sell-off": -2.4, "crash": -3.0, "crashes": -3.0, "crashed": -3.0, "plunge": -2.8,
    "bloodbath": -3.0, "bearish": -2.4, "fud": -1.4, "rekt": -2.4, "fear": -1.8,
    "fears": -1.8, "panic": -2.4, "turmoil": -2.4, "contagion": -2.6, "unrest": -1.8,
    "recession": -2.4, "downgrade": -2.4, "downgrades": -2.4, "downgraded": -2.6,
    "unprofitable": -2.4, "deficit": -1.6, "impairment": -2.0, "writedown": -2.2,
    "write-down": -2.2, "shortfall": -2.2, "weaker": -1.8, "weak": -1.8, "weakness": -1.8,
    "worse": -2.2, "worst": -2.6, "worsened": -2.2, "deteriorated": -2.4,
    "deterioration": -2.4, "negative": -2.0, "lose": -1.8, "loses": -1.8, "losing": -1.8,
    "lost": -1.8, "struggles": -1.8, "struggling": -1.8, "troubled": -2.0, "slowdown": -1.8,
    "sluggish": -1.8, "dilution": -1.4, "unlock": -0.6, "unlocks": -0.6, "outflow": -1.8,
    "outflows": -1.8, "bubble": -1.4, "overvalued": -1.6, "unsustainable": -1.8,
    "loss-making": -2.4, "lossmaking": -2.4, "bearishness": -2.2, "cheaper": -0.4,
    # positives
    "approval": 2.6, "approves": 2.8, "approved": 2.8, "approve": 2.2, "greenlight": 2.6,
    "greenlights": 2.6, "greenlit": 2.6, "listing": 1.6, "lists": 1.6, "listed": 1.0,
    "partnership": 2.2, "partnerships": 2.0, "partners": 1.8, "partnered": 2.0,
    "collaboration": 1.6, "collaborates": 1.6, "integrates": 1.8, "integration": 1.4,
    "adopts": 2.0, "adoption": 1.8, "adopted": 1.6, "upgrade": 1.8, "upgrades": 1.8,
    "upgraded": 2.2, "mainnet": 1.2, "launches": 1.4, "launched": 1.2, "launch": 1.0,
    "inflow": 2.0, "inflows": 2.2, "bullish": 2.6, "rally": 2.6, "rallies": 2.6,
    "rallied": 2.6, "breakout": 2.2, "moon": 2.0, "mooning": 2.4, "ath": 2.8,
    "record": 1.0, "milestone": 2.0, "surge": 2.6, "soaring": 2.6, "skyrockets": 3.0,
    "skyrocketed": 3.0, "rebound": 2.2, "rebounds": 2.2, "rebounded": 2.2, "recovery": 1.8,
    "recovers": 1.8, "recovered": 1.8, "wins": 2.0, "win": 1.8, "won": 2.0, "awarded": 2.0,
    "secures": 1.8, "secured": 1.6, "raises": 1.2, "raised": 1.0, "backs": 1.4,
    "backed": 1.2, "endorses": 2.0, "accumulate": 1.4, "accumulating": 1.6,
    "accumulation": 1.6, "buyback": 2.0, "buybacks": 2.0, "outperform": 2.2,
    "outperforms": 2.2, "outperformed": 2.2, "beats": 2.2, "beat": 1.6, "exceeded": 2.2,
    "exceeds": 2.0, "profitable": 2.4, "profitability": 1.8, "strong": 2.0, "stronger": 2.2,
    "strongest": 2.4, "robust": 2.0, "solid": 1.6, "favorable": 2.0, "favourable": 2.0,
    "positive": 2.0, "upbeat": 2.2, "optimism": 2.0, "optimistic": 2.0, "improvement": 2.0,
    "improvements": 1.8, "improving": 2.0, "improve": 1.8, "improves": 2.0,
    "improved": 2.2, "success": 2.0, "successful": 2.2, "successfully": 2.0,
    "expands": 1.6, "expanding": 1.4, "expansion": 1.6, "boost": 1.8, "boosts": 2.0,
    "boosted": 2.0, "bolsters": 2.0, "bolstered": 2.0, "benefit": 1.6, "benefits": 1.4,
    "benefited": 1.8, "upside": 1.6, "bull": 1.4, "greed": 0.4, "hodl": 1.0,
    "legalizes": 2.4, "legalises": 2.4, "legalize": 1.8, "legal": 0.6, "cleared": 1.6,
    "clears": 1.6, "dismissed": 1.6, "dismisses": 1.6, "acquitted": 2.2, "settles": 0.8,
    "settlement": 0.4, "reopens": 1.8, "resumes": 1.6, "resumed": 1.6, "restored": 1.6,
    "profit": 0.4, "profits": 0.6, "gain": 1.6, "gains": 1.6, "gained": 1.6,
    "high": 0.6, "higher": 1.2, "growth": 1.4, "grew": 1.2, "doubled": 1.6,
}

# Market-structure words: buying/selling pressure, supply overhangs, relative strength.
DOMAIN_VALENCE.update({
    "accumulates": 1.8, "frenzy": 1.0, "record": 1.8, "ipo": 1.4, "creditors": -1.2, "stuck": -1.2,
    "bugs": -1.4, "license": 1.2, "licence": 1.2, "licensed": 1.2, "revoked": -2.4,
    "revokes": -2.4, "underperforms": -2.0, "underperform": -1.8, "underperformed": -2.0,
    "regains": 1.6, "regained": 1.6, "debut": 1.0, "debuts": 1.2, "obtains": 0.8,
    "bulls": 1.6, "bears": -1.6, "regain": 1.4, "eyes": 0.6, "looms": -1.4, "looming": -1.4,
    "largest": 0.8, "recovers": 2.2, "recovered": 2.2,
    "raids": -2.2, "raid": -2.0, "raided": -2.2, "dismissal": 1.4, "unmoved": -0.4,
    "capitulate": -2.4, "capitulates": -2.4, "capitulated": -2.4, "stalls": -1.6,
    "stalled": -1.6, "fizzles": -1.8, "slumps": -2.4,
})

# Buying and selling read as pressure on a coin only when the headline names one
# ("MicroStrategy buys 12,000 BTC", "miners sell bitcoin"); in company news "sells tires"
# or "bought a stake" is neutral. Applied by the scorer when symbols were tagged.
TRADE_VERBS: dict[str, float] = {
    "buys": 1.6, "bought": 1.4, "buying": 1.4, "purchases": 1.4, "purchased": 1.4,
    "adds": 1.0, "sells": -1.6, "sold": -1.2, "selling": -1.6, "sell": -1.2,
    "dumps": -2.0, "dumped": -2.0, "offloads": -1.8, "offloaded": -1.8, "unloads": -1.8,
}

# VADER words that are (near) neutral in financial news: their everyday tone misleads.
NEUTRALISE: frozenset[str] = frozenset({
    "share", "shares", "interest", "credit", "security", "securities", "united", "trust",
    "fund", "funds", "funding", "value", "free", "help", "helps", "support", "supports",
    "supported", "leading", "lead", "leads", "top", "care", "like", "well", "pretty",
    "please", "agreement", "agree", "agreed", "party", "stake", "mining", "gold", "reach",
    "demand", "pay", "payment", "payments", "cut", "cuts", "low", "lower", "risk",
    "risks", "charge", "tax", "taxes", "limited", "capital", "big", "large",
    "huge", "ensure", "ensures", "respect", "rescue", "save", "saving", "savings", "bond",
    "bonds", "yes", "no", "want", "wants", "hope", "play", "players", "join", "joins",
    "joined", "matter", "serious", "seriously", "important", "clean", "energy", "power",
    "powerful", "popular", "protect", "protection", "safe", "safety", "smart", "solution",
    "solutions", "special", "sure", "true", "welcome", "worth", "allow", "allows",
    "alliance", "cooperation", "innovative", "innovation", "opportunity", "opportunities",
    "promote", "quality", "ready", "responsible", "dear",
    "wish", "ok", "okay", "kind", "hard", "easy", "fire", "fighting", "hunting",
    "attack", "attacks", "cancer", "disease", "war", "crisis", "emergency", "problem",
    "problems", "question", "questions", "complaint", "claims", "claim", "critical",
    "pressure", "pressures", "competition", "competitive", "challenge", "challenges",
    "challenging", "dead", "death", "kill", "killed", "cancel", "cancelled", "canceled",
    "stop", "stops", "stopped", "leave", "left", "shock", "reserve", "reserves", "trade",
    "trading", "award", "awards", "winner", "prize", "promise", "promises", "commitment",
    "committed", "loan", "loans", "debt", "freedom",
    "certain", "clear", "clearly", "easing", "eased",
})

# --- direction words and the quantities they move -------------------------------------
# +1: the quantity goes up; -1: it goes down. A direction word next to a quantity gives
# the sign of (direction x quantity polarity): "loss narrowed" reads positive.
DIRECTION: dict[str, int] = {}
for _w in ("surge", "soar", "rally", "rocket", "skyrocket", "spike", "climb"):
    DIRECTION[_w] = 1
for _w in ("plunge", "crash", "tumble", "plummet", "slump", "sink", "slide", "dive"):
    DIRECTION[_w] = -1
for _w in (
    "rose", "rise", "rises", "rising", "risen", "increase", "increased", "increases",
    "increasing", "grew", "grow", "grows", "growing", "up", "higher", "doubled", "doubles",
    "tripled", "triples", "jumped", "jump", "jumps", "jumping", "surged", "surges", "surging",
    "soared", "soars", "climbed", "climb", "climbs", "climbing", "gained", "gains", "rallied",
    "rallies", "spiked", "spikes", "spike", "boosted", "expanded", "widened", "widens",
    "strengthened", "rebounded", "rebounds", "advanced", "advances", "advance", "hike", "hikes",
    "hiked", "accelerated", "accelerates", "upswing", "uptick", "tops", "topped", "topping",
    "exceed", "exceeded", "exceeds", "pumps", "pumped", "skyrockets", "skyrocketed", "rockets",
    "rocketed", "balloons", "ballooned", "swelled", "swells"
):
    DIRECTION[_w] = 1
for _w in (
    "fell", "fall", "falls", "falling", "fallen", "decreased", "decrease", "decreases",
    "decreasing", "declined", "decline", "declines", "declining", "dropped", "drop", "drops",
    "dropping", "down", "lower", "lowered", "lowers", "plunged", "plunges", "plunging",
    "slumped", "slump", "slumps", "tumbled", "tumbles", "tumble", "sank", "sinks", "sink",
    "shrank", "shrinks", "shrink", "shrinking", "contracted", "contracts", "contraction",
    "narrowed", "narrows", "narrowing", "weakened", "weakens", "slipped", "slips", "slid",
    "slides", "sliding", "dipped", "dips", "dip", "cut", "cuts", "cutting", "reduced", "reduce",
    "reduces", "reducing", "reduction", "reductions", "crashed", "crashes", "collapsed",
    "plummeted", "plummets", "plummet", "eased", "eases", "halved", "halves", "diminished",
    "diminishes", "sheds", "shed", "tanked", "tanks", "tank", "slashed", "slashes", "slash",
    "trimmed", "trims", "downturn", "retreats", "retreated", "slides", "lowers", "drops",
    "slowed", "slows"
):
    DIRECTION[_w] = -1

# Quantities that are good when they rise (+1) or bad when they rise (-1).
QUANTITY: dict[str, int] = {}
for _w in (
    "profit", "profits", "earnings", "income", "revenue", "revenues", "sales", "turnover",
    "ebit", "ebitda", "eps", "margin", "margins", "orders", "order", "demand", "output",
    "production", "volume", "volumes", "dividend", "dividends", "valuation", "price", "prices",
    "shares", "stock", "stocks", "capacity", "deliveries", "traffic", "customers", "users",
    "subscribers", "employees", "jobs", "workforce", "staff", "headcount", "cash", "cashflow",
    "result", "results", "performance", "tvl", "inflows", "inflow", "hashrate", "adoption",
    "liquidity", "rating", "guidance", "forecast", "outlook", "exports", "market-cap",
    "marketcap", "cap", "returns", "return", "yield", "growth", "value", "net", "operating",
    "gross", "bitcoin", "btc", "ether", "eth", "crypto", "cryptocurrency", "token", "tokens",
    "coin", "coins", "market", "markets", "index", "nasdaq", "stake", "holdings", "reserves",
    "sentiment", "interest", "confidence", "wages", "payout", "payouts", "backlog", "bookings",
    "occupancy", "productivity", "efficiency"
):
    QUANTITY[_w] = 1
for _w in (
    "loss", "losses", "costs", "cost", "expenses", "expense", "debt", "debts", "deficit",
    "unemployment", "outflows", "outflow", "layoffs", "redundancies", "liabilities",
    "impairment", "impairments", "writedowns", "writedown", "provisions", "spending", "churn",
    "inflation", "delinquencies", "defaults", "fees", "prices-paid", "volatility",
    "risk", "risks", "difficulties", "problems", "uncertainty", "tariffs", "tariff", "fine",
    "fines", "penalty", "penalties", "complaints", "claims", "downtime", "liquidations",
    "shortfall", "borrowing", "leverage", "bankruptcies",
    # legal pressure: "SEC drops case" reads positive, "lawsuits mount" negative
    "case", "lawsuit", "lawsuits", "charges", "probe", "investigation", "scrutiny",
    "restrictions",
):
    QUANTITY[_w] = -1

# Quantities that read negative on their own ("a net loss of EUR 2 mn").
INTRINSIC_QUANTITY_VALENCE: dict[str, float] = {
    "loss": -2.2, "losses": -2.2, "layoffs": -2.4, "redundancies": -2.2,
    "impairment": -2.0, "writedown": -2.2, "writedowns": -2.2, "deficit": -1.6,
    "outflows": -1.8, "outflow": -1.8, "liquidations": -1.6, "bankruptcies": -2.4,
    "shortfall": -2.0, "inflows": 2.0, "inflow": 1.8,
}

# --- multi-word expressions ------------------------------------------------------------
# (tokens) -> (valence, event type or "" to keep detection by words)
PHRASES: dict[tuple[str, ...], tuple[float, str]] = {
    ("rug", "pull"): (-3.2, "hack/exploit"),
    ("rug", "pulled"): (-3.2, "hack/exploit"),
    ("exit", "scam"): (-3.2, "hack/exploit"),
    ("flash", "loan"): (-1.6, "hack/exploit"),
    ("51%", "attack"): (-3.0, "hack/exploit"),
    ("private", "keys"): (-0.6, "hack/exploit"),
    ("etf", "approval"): (3.0, "regulatory"),
    ("etf", "approved"): (3.0, "regulatory"),
    ("etf", "approvals"): (3.0, "regulatory"),
    ("etf", "rejected"): (-3.0, "regulatory"),
    ("etf", "rejection"): (-3.0, "regulatory"),
    ("etf", "inflows"): (2.6, "market"),
    ("etf", "outflows"): (-2.4, "market"),
    ("cease", "and", "desist"): (-2.6, "regulatory"),
    ("class", "action"): (-2.2, "regulatory"),
    ("wells", "notice"): (-2.6, "regulatory"),
    ("chapter", "11"): (-3.4, "market"),
    ("files", "for", "bankruptcy"): (-3.6, "market"),
    ("all-time", "high"): (3.0, "market"),
    ("all", "time", "high"): (3.0, "market"),
    ("all-time", "highs"): (3.0, "market"),
    ("record", "high"): (2.8, "market"),
    ("record", "highs"): (2.8, "market"),
    ("new", "high"): (2.4, "market"),
    ("new", "highs"): (2.4, "market"),
    ("record", "low"): (-2.8, "market"),
    ("record", "lows"): (-2.8, "market"),
    ("new", "low"): (-2.4, "market"),
    ("new", "lows"): (-2.4, "market"),
    ("multi-year", "low"): (-2.4, "market"),
    ("short", "squeeze"): (2.0, "market"),
    ("golden", "cross"): (2.4, "market"),
    ("death", "cross"): (-2.4, "market"),
    ("bull", "run"): (2.6, "market"),
    ("bull", "market"): (2.4, "market"),
    ("bear", "market"): (-2.4, "market"),
    ("sell", "off"): (-2.4, "market"),
    ("flash", "crash"): (-3.0, "market"),
    ("halts", "withdrawals"): (-3.2, "market"),
    ("halted", "withdrawals"): (-3.2, "market"),
    ("pauses", "withdrawals"): (-3.0, "market"),
    ("paused", "withdrawals"): (-3.0, "market"),
    ("suspends", "withdrawals"): (-3.2, "market"),
    ("hard", "fork"): (0.4, "technical"),
    ("profit", "warning"): (-3.0, "market"),
    ("profit", "taking"): (-1.0, "market"),
    ("in", "the", "red"): (-2.0, ""),
    ("in", "the", "black"): (2.0, ""),
    ("to", "the", "moon"): (2.8, "market"),
    ("buy", "the", "dip"): (1.2, "market"),
    ("interest", "rate", "hike"): (-1.8, "macro"),
    ("rate", "hike"): (-1.8, "macro"),
    ("rate", "hikes"): (-1.8, "macro"),
    ("rate", "cut"): (1.8, "macro"),
    ("rate", "cuts"): (1.8, "macro"),
    ("strategic", "reserve"): (2.4, "regulatory"),
    ("strategic", "bitcoin", "reserve"): (2.8, "regulatory"),
    ("green", "light"): (2.4, ""),
    ("lays", "off"): (-2.4, ""),
    ("laid", "off"): (-2.4, ""),
    ("job", "cuts"): (-2.4, ""),
    ("staff", "cuts"): (-2.4, ""),
    ("temporary", "layoffs"): (-2.4, ""),
    ("order", "book"): (0.0, ""),
    ("market", "share"): (0.0, ""),
    ("share", "price"): (0.0, ""),
    ("under", "pressure"): (-1.6, "market"),
    ("wiped", "out"): (-2.6, "market"),
    ("not", "guilty"): (2.0, "regulatory"),
    ("no", "longer"): (-0.6, ""),
    ("buys", "the", "dip"): (2.0, "market"),
    ("bought", "the", "dip"): (2.0, "market"),
    ("buying", "the", "dip"): (2.0, "market"),
    ("buy", "back"): (2.0, "market"),
    ("buys", "back"): (2.0, "market"),
    ("bought", "back"): (1.8, "market"),
    ("agrees", "to", "pay"): (-1.8, "regulatory"),
    ("agreed", "to", "pay"): (-1.8, "regulatory"),
    ("ordered", "to", "pay"): (-2.4, "regulatory"),
    ("funding", "round"): (1.4, "partnership"),
    ("series", "a"): (1.2, "partnership"),
    ("series", "b"): (1.2, "partnership"),
    ("series", "c"): (1.2, "partnership"),
    ("seed", "round"): (1.2, "partnership"),
    ("token", "burn"): (1.4, "market"),
    ("burn", "rate"): (0.0, ""),
    ("adds", "support"): (1.8, "market"),
    ("added", "support"): (1.8, "market"),
    ("adding", "support"): (1.8, "market"),
    ("start", "trading"): (1.2, "market"),
    ("starts", "trading"): (1.2, "market"),
    ("begins", "trading"): (1.2, "market"),
    ("trading", "begins"): (1.2, "market"),
    ("wins", "dismissal"): (2.6, "regulatory"),
    ("won", "dismissal"): (2.6, "regulatory"),
    ("during", "dip"): (0.0, ""),
    ("during", "the", "dip"): (0.0, ""),
    ("on", "the", "dip"): (0.0, ""),
    ("record", "date"): (0.0, ""),
    ("of", "record"): (0.0, ""),
    ("on", "record"): (0.0, ""),
    ("files", "for"): (1.0, ""),
    ("filed", "for"): (1.0, ""),
    ("filed", "for", "bankruptcy"): (-3.6, "market"),
    ("files", "for", "insolvency"): (-3.6, "market"),
    ("to", "end"): (-1.2, ""),
    ("dries", "up"): (-1.8, "market"),
    ("dried", "up"): (-1.8, "market"),
    ("drying", "up"): (-1.8, "market"),
    ("wins", "lawsuit"): (2.6, "regulatory"),
    ("wins", "case"): (2.6, "regulatory"),
    ("won", "lawsuit"): (2.6, "regulatory"),
    ("loses", "lawsuit"): (-2.6, "regulatory"),
    ("lost", "lawsuit"): (-2.6, "regulatory"),
    ("loses", "case"): (-2.6, "regulatory"),
    ("hits", "record", "low"): (-2.8, "market"),
    ("hit", "record", "low"): (-2.8, "market"),
    ("hits", "record", "lows"): (-2.8, "market"),
    ("hits", "record", "high"): (3.0, "market"),
    ("hit", "record", "high"): (3.0, "market"),
    ("hits", "record"): (2.4, "market"),
    ("hit", "record"): (2.4, "market"),
    ("record", "inflows"): (2.8, "market"),
    ("record", "outflows"): (-2.8, "market"),
    ("record", "losses"): (-2.8, "market"),
    ("record", "loss"): (-2.8, "market"),
    ("license", "revoked"): (-2.6, "regulatory"),
    ("extreme", "fear"): (-2.4, "market"),
    ("extreme", "greed"): (1.2, "market"),
    ("up", "to"): (0.0, ""),
    ("set", "up"): (0.0, ""),
    ("sets", "up"): (0.0, ""),
    ("setting", "up"): (0.0, ""),
    ("sign", "up"): (0.0, ""),
    ("pick", "up"): (0.0, ""),
    ("picks", "up"): (0.6, ""),
    ("follow", "up"): (0.0, ""),
    ("step", "down"): (-1.2, ""),
    ("steps", "down"): (-1.2, ""),
    ("stepped", "down"): (-1.2, ""),
    ("shut", "down"): (-2.2, ""),
    ("shuts", "down"): (-2.2, ""),
    ("shutting", "down"): (-2.2, ""),
    ("cracks", "down"): (-2.4, "regulatory"),
    ("cracking", "down"): (-2.4, "regulatory"),
    ("cracked", "down"): (-2.4, "regulatory"),
    ("crack", "down"): (-2.4, "regulatory"),
    ("break", "down"): (0.0, ""),
    ("breakdown", "of"): (0.0, ""),
    ("pulls", "out"): (-1.6, ""),
    ("backs", "out"): (-1.6, ""),
    ("bounces", "back"): (2.2, "market"),
    ("bounced", "back"): (2.2, "market"),
    ("out", "of", "the", "woods"): (1.6, ""),
    ("turned", "profitable"): (2.8, "market"),
    ("returned", "to", "profit"): (2.8, "market"),
    ("swung", "to", "a", "loss"): (-2.8, "market"),
    ("swung", "to", "a", "profit"): (2.8, "market"),
    ("to", "a", "profit"): (2.0, ""),
    ("to", "a", "loss"): (-2.0, ""),
    ("from", "a", "loss"): (1.2, ""),
    ("from", "a", "profit"): (-1.2, ""),
}

# --- event types ------------------------------------------------------------------------
EVENT_WORDS: dict[str, str] = {}
_EVENTS = {
    "hack/exploit": "hack hacked hacks hacker hackers exploit exploited exploits exploiter "
    "breach breached drained drains stolen steal stole theft heist phishing compromised "
    "vulnerability vulnerabilities ransomware rugpull rugged attacker attackers scam scams "
    "scammer scammers ponzi laundering drainer",
    "regulatory": "sec cftc finra regulator regulators regulation regulations regulatory "
    "lawsuit lawsuits sues sued suing court judge ruling ban bans banned banning "
    "license licence licensed licensing compliance sanctions sanctioned fined penalty "
    "subpoena charges charged indicted indictment legislation bill law lawmakers congress "
    "senate parliament doj probe investigation crackdown mica approval approves approved "
    "etf etfs gensler attorney prosecutors unregistered illegal legalizes legalises "
    "legal outlaw outlaws arrested arrest jailed guilty sentenced treasury irs tax "
    "taxes regulate regulated kyc aml fca esma watchdog",
    "partnership": "partnership partnerships partners partnered partner collaboration "
    "collaborates collaborate integrates integration integrate alliance acquires "
    "acquisition acquired acquire merger merges merge deal deals agreement signs signed "
    "contract contracts adopts adoption adopted joint teams",
    "technical": "upgrade upgrades upgraded fork mainnet testnet protocol halving outage "
    "outages bug bugs downtime network scaling layer-2 rollup rollups node nodes "
    "validator validators patch patched release releases released update updates "
    "firmware client blockchain chain consensus sharding eip bip taproot dencun pectra "
    "shanghai merge launch launches launched smart-contract staking",
    "macro": "fed federal inflation cpi ppi recession gdp unemployment payrolls treasury "
    "yields tariff tariffs economy economic ecb powell stimulus rates rate dollar dxy "
    "central boj pboc jobs",
    "market": "price prices rally rallies rallied surge surges surged plunge plunges "
    "plunged crash crashes crashed ath inflows outflows liquidations listing lists listed "
    "delist delists delisted delisting trading volume market markets bull bear bullish "
    "bearish whale whales selloff sell-off short shorts longs breakout support resistance "
    "rebound rebounds dump dumps pump pumps price-action futures options funding etf-flows "
    "depeg depegs depegged insolvency insolvent bankruptcy bankrupt liquidation "
    "collapse collapses collapsed buyback",
}
for _etype, _words in _EVENTS.items():
    for _w in _words.split():
        EVENT_WORDS.setdefault(_w, _etype)

# Priority when several event types are cued: the most specific, most price-moving wins.
EVENT_PRIORITY: dict[str, int] = {
    "hack/exploit": 6, "regulatory": 5, "macro": 4, "partnership": 3, "technical": 2,
    "market": 1, "none": 0,
}
# Base impact per event type (1..10), before magnitude adjustments.
EVENT_BASE_IMPACT: dict[str, int] = {
    "hack/exploit": 7, "regulatory": 6, "macro": 5, "partnership": 4, "technical": 3,
    "market": 3, "none": 1,
}

# --- modifiers --------------------------------------------------------------------------
EXTRA_NEGATORS: frozenset[str] = frozenset({
    "no", "not", "never", "without", "fails", "failed", "fail", "unable", "lack",
    "lacks", "lacking", "neither", "nor", "cannot", "hardly", "barely", "isnt", "wont",
    "didnt", "doesnt", "dont", "refuses", "refused", "rules", "avoid", "avoids", "avoided",
    "stops", "prevent", "prevents", "prevented", "denies", "denied", "halts", "blocks",
    "blocked", "delays", "delayed", "postpones", "postponed", "rejects", "rejected",
    "resists", "fewer", "delay", "ends",
})
# Negators that flip a following sentiment word, but ("denies", "delays") also carry
# their own tone: those stay in DOMAIN_VALENCE.
HEDGES: frozenset[str] = frozenset({
    "could", "may", "might", "reportedly", "rumor", "rumour", "rumored", "rumoured",
    "rumors", "rumours", "possible", "possibly", "potential", "potentially", "if",
    "unconfirmed", "speculation", "considering", "considers", "mulls", "weighs", "plans",
    "plan", "planned", "expected", "expects", "aims", "seeks", "seeking", "proposed",
    "proposes", "proposal", "would", "should", "whether", "predicts", "prediction",
})
CONTRAST: frozenset[str] = frozenset({"but", "however", "although", "though", "yet", "while"})
# "Ether rebounds after weekend sell-off": the clause after these is background, the
# headline's news is before it.
BACKGROUND: frozenset[str] = frozenset({"after", "following"})
BIG_AMOUNTS: frozenset[str] = frozenset({"billion", "billions", "bn", "trillion", "b"})

# --- crypto rule layer ----------------------------------------------------------------
# Headline slang of crypto news that finance lexicons lack or misread: "explodes 700%" is
# a price move up (VADER reads "explode" as violence), "bleeds", "nosedives", "craters"
# are moves down; chart talk ("death cross", "pullback", "downtrend") carries a tone.
CRYPTO_DIRECTION: dict[str, int] = {
    "explodes": 1, "explode": 1, "exploded": 1, "exploding": 1, "moons": 1, "reclaims": 1,
    "outpaces": 1, "outpace": 1, "flips": 1, "nosedives": -1, "nosedive": -1,
    "nosedived": -1, "craters": -1, "cratered": -1, "bleeds": -1, "bleeding": -1,
    "slip": -1, "sags": -1, "wobbles": -1,
}
CRYPTO_VALENCE: dict[str, float] = {
    "moonshot": 2.0, "uptrend": 1.8, "breakouts": 2.0, "highs": 1.4, "outperforming": 1.8,
    "recovers": 1.6, "recovery": 1.4, "rebound": 1.6, "reclaim": 1.6, "bull-run": 2.2,
    "bullrun": 2.2, "green": 0.8, "accumulates": 1.6, "whitelisted": 1.2,
    "pullback": -1.2, "correction": -1.4, "downtrend": -1.8, "lows": -1.2, "red": -1.0,
    "wipes": -2.0, "wiped": -2.0, "routed": -2.4, "shakeout": -1.4, "doubt": -1.4,
    "doubts": -1.4, "drainer": -2.6, "exit-scam": -3.2, "rugpulls": -3.2,
}
CRYPTO_PHRASES: dict[tuple[str, ...], tuple[float, str]] = {
    ("death", "cross"): (-2.2, "market"),
    ("golden", "cross"): (2.2, "market"),
    ("all-time", "low"): (-2.6, "market"),
    ("turn", "red"): (-1.8, "market"),
    ("turns", "red"): (-1.8, "market"),
    ("turn", "green"): (1.8, "market"),
    ("turns", "green"): (1.8, "market"),
    ("etf", "inflows"): (2.4, "market"),
    ("etf", "outflows"): (-2.4, "market"),
    ("token", "unlock"): (-1.0, "market"),
    ("funding", "round"): (1.8, "partnership"),
}
for _w, _d in CRYPTO_DIRECTION.items():
    DIRECTION.setdefault(_w, _d)
for _ph, _pv in CRYPTO_PHRASES.items():
    PHRASES.setdefault(_ph, _pv)

# Event types as the table defines them: exchange listings and delistings are
# "listing/partnership" events, ETF launches and flows are "market/ETF flows" (filings
# and approvals stay regulatory through "files", "sec", "approval"...). Generic nouns
# ("blockchain", "network", "update", "treasury") named no event in crypto headlines,
# where every title has one of them.
CRYPTO_EVENT_OVERRIDES: dict[str, str] = {
    **dict.fromkeys(("list", "lists", "listed", "listing", "listings", "delist", "delists",
                     "delisted", "delisting", "delistings", "relists", "launchpool",
                     "launchpad"), "partnership"),
    **dict.fromkeys(("etf", "etfs", "etp", "etps"), "market"),
    **dict.fromkeys(("files", "filed", "filing", "filings", "s-1", "reserve"), "regulatory"),
    # product news and tokenomics (developed on the dev samples, never on the test one)
    **dict.fromkeys(("unveil", "unveils", "unveiled", "introduces", "introduced", "burn",
                     "burns", "burned"), "technical"),
    # adoption, investment and listing phrasing of crypto news
    **dict.fromkeys(("taps", "tapped", "invests", "invested", "accept", "accepts", "pilot",
                     "pilots", "available"), "partnership"),
    **dict.fromkeys(("hacking", "hijacked", "scammed"), "hack/exploit"),
}
ETF_WORDS: frozenset[str] = frozenset({"etf", "etfs", "etp", "etps"})
"""With a launch word, an ETF makes the event `market` (fund launches and flows), not a
product launch (`technical`)."""
LAUNCH_WORDS: frozenset[str] = frozenset({"launch", "launched", "launches", "launching"})
for _w in ("blockchain", "chain", "network", "protocol", "client", "update", "updates",
           "treasury"):
    EVENT_WORDS.pop(_w, None)
EVENT_WORDS.update(CRYPTO_EVENT_OVERRIDES)
