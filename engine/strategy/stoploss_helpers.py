"""Freqtrade's two stoploss helpers for `Strategy.custom_stoploss`.

`custom_stoploss` answers a ratio below the *current* rate; a strategy usually thinks
of its stop relative to the open rate ("break-even once +2 %") or as a price ("under
the last swing low"). These convert, with Freqtrade's formulas and clamps, so a
Freqtrade strategy's stop logic ports unchanged
(https://www.freqtrade.io/en/stable/strategy-callbacks/#stoploss-relative-to-open-price,
https://www.freqtrade.io/en/stable/strategy-callbacks/#stoploss-calculation-absolute-price).
"""

from __future__ import annotations


def stoploss_from_open(open_relative_stop: float, current_profit: float,
                       is_short: bool = False, leverage: float = 1.0) -> float:
    """The ratio below the current rate that puts the stop at ``open_relative_stop``
    from the open rate (0.07: 7 % above it for a long). ``current_profit`` is the
    trade's profit ratio at the current rate (leveraged); 0 when the wanted stop is
    above the current rate (the stop would hit at once), 1 when the position is gone."""
    _profit = current_profit / leverage
    if (_profit == -1 and not is_short) or (is_short and _profit == 1):
        return 1.0
    if is_short:
        stoploss = -1 + ((1 - open_relative_stop / leverage) / (1 - _profit))
    else:
        stoploss = 1 - ((1 + open_relative_stop / leverage) / (1 + _profit))
    return max(stoploss * leverage, 0.0)


def stoploss_from_absolute(stop_rate: float, current_rate: float, is_short: bool = False,
                           leverage: float = 1.0) -> float:
    """The ratio below ``current_rate`` that puts the stop at the price ``stop_rate``,
    clamped to [0, 1] before the leverage factor (Freqtrade's rule)."""
    if current_rate == 0:
        return 1.0
    stoploss = 1 - (stop_rate / current_rate)
    if is_short:
        stoploss = -stoploss
    return max(min(stoploss, 1.0), 0.0) * leverage
