"""Signal building blocks that strategies compose: market regime, chart patterns with
the candle at which each became knowable, multi-timeframe confirmation, and filter
layers that say why a signal was dropped.

Everything here is causal: a value at row ``i`` reads rows ``<= i`` only, so a
strategy built from these blocks gives the same signals in a backtest over the whole
history and in the live runtime over its trailing window (given the window covers the
blocks' look-back, which each block states).
"""
