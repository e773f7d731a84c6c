"""The SQLite journal: orders, fills, subscriptions, persistent state and the audit log."""

from engine.journal.records import AuditRecord, FillRecord, OrderRecord, SubscriptionRecord
from engine.journal.store import Journal

__all__ = ["AuditRecord", "FillRecord", "Journal", "OrderRecord", "SubscriptionRecord"]
