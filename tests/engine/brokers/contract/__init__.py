"""The broker contract: every adapter, paired with its fake, held to the same cases
(tests/engine/brokers/test_contract.py). A new broker adds a `BrokerPair` in pairs.py."""
