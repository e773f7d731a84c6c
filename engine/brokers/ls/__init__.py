"""LS증권 (ex-eBest) OPEN API adapter: config, codec (pure), HTTP, websocket, broker."""
