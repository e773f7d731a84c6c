"""Korea Investment & Securities (KIS) Open API adapter: config, codec, HTTP, websocket, broker."""
