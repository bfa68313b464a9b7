"""Wiring: the Connector base, endpoint values and subscription bookkeeping."""

from connectivity.connector.base import Connector, EventSink, QueueSink
from connectivity.connector.endpoint import Endpoint
from connectivity.connector.streams import Subscriptions

__all__ = ["Connector", "Endpoint", "EventSink", "QueueSink", "Subscriptions"]
