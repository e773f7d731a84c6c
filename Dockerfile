FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY engine ./engine
COPY bot ./bot
RUN pip install -c constraints.txt . \
 && useradd --create-home --uid 10001 tradecord \
 && mkdir -p /data && chown tradecord /data
USER tradecord
VOLUME ["/data"]

# The engine rewrites $DATA_DIR/heartbeat every 5 s from its event loop: a stale file means a
# dead or blocked process.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "health"]

CMD ["python", "-m", "bot", "run", "--headless"]
