"""The Kiwoom (키움증권) REST API + WebSocket adapter (the 2025 service, not the OCX Open API+)."""
