"""Fault injection for the money path: `python -m engine.chaos --rounds N --seed S --broker sim|kis`.

The agent (`python -m bot`) and the broker (the sim exchange, or the KIS fake from tests/) run as
separate processes on 127.0.0.1. Each round drives the agent through its console and ends with a
SIGKILL at a seeded random moment; some rounds also kill and restart the broker (sim) or inject
broker faults (KIS). A final clean run settles everything, then the journal is checked against
the broker (engine.chaos.invariants) and one JSON summary line is printed.

Nothing here is imported by the agent; the KIS fake is imported only inside its own child process
(engine.chaos.kisfake), so this package never needs tests/ at import time.
"""
