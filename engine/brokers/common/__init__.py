"""Pieces every broker adapter is built from, so no adapter carries its own copy:

- `pending`: requests sent over a socket, waiting for the frame that answers them;
- `stream`: the one realtime connection, reconnecting with backoff and registering again;
- `pacing`: a request budget in which orders go ahead of queries;
- `session`: an HTTP session on that budget, transport failures said in plain words;
- `tokens`: an access token cached on disk while it is valid;
- `conditions`: condition members, turning snapshots and polls into enters and leaves.
"""
