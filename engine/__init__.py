"""sentitrade trading core: no chat code lives here (DESIGN.md)."""
