"""Brokers (paper, ccxt) and the execution engine that books their answers."""

from engine.execution.broker import Broker, BrokerFill, BrokerOrder, MarketInfo, OrderRequest
from engine.execution.engine import ExecutionEngine, client_order_id
from engine.execution.orders import ORDER_FSM, OrderTrigger
from engine.execution.paper import PaperBroker, Quote

__all__ = [
    "ORDER_FSM",
    "Broker",
    "BrokerFill",
    "BrokerOrder",
    "ExecutionEngine",
    "MarketInfo",
    "OrderRequest",
    "OrderTrigger",
    "PaperBroker",
    "Quote",
    "client_order_id",
]
