"""Brokers (paper, ccxt) and the execution engine that books their answers."""

from engine.execution.broker import Broker, BrokerFill, BrokerOrder, MarketInfo, OrderRequest
from engine.execution.engine import ExecutionEngine, client_order_id
from engine.execution.orders import ORDER_FSM, OrderTrigger
from engine.execution.ordertypes import ORDER_TYPES, Capabilities, capabilities, describe
from engine.execution.paper import PaperBroker, Quote

__all__ = [
    "ORDER_FSM",
    "ORDER_TYPES",
    "Broker",
    "BrokerFill",
    "BrokerOrder",
    "Capabilities",
    "ExecutionEngine",
    "MarketInfo",
    "OrderRequest",
    "OrderTrigger",
    "PaperBroker",
    "Quote",
    "capabilities",
    "client_order_id",
    "describe",
]
