"""The REST/WebSocket API, webhook receiver, Prometheus metrics and web dashboard.

A transport like the chat ones: it authenticates, validates, calls
`engine.service.api.TradingAPI` and serialises; no trading logic lives here.
`engine` never imports this package; `bot.cli` wires it into `sentitrade run`.
"""
