"""Broker adapters behind one interface (`engine.brokers.base.Broker`)."""
