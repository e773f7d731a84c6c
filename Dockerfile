# Tradecord agent image. See README.md (Docker) for building, running and scripts/container-check.
#
# Two stages. The build stage installs the package (a wheel built from the source, not an
# editable install) and the exact versions of constraints.txt into the prefix /install and
# byte-compiles it; the final image copies only that tree onto /usr/local. The source tree,
# build/, *.egg-info and pip's caches stay behind in the build stage.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY engine ./engine
COPY bot ./bot
# --ignore-installed: the prefix gets every distribution the agent needs, even one that the base
# image's own pip environment happens to hold. --no-compile, then compileall: the .pyc files
# record their final path (/usr/local/...), so tracebacks show the installed source, and
# "unchecked-hash" makes Python use them as they are: nothing is compiled or written at start
# or at each health check (the agent's user could not write to site-packages anyway).
RUN pip install --no-compile --ignore-installed --prefix=/install -c constraints.txt . \
 && python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
        -s /install -p /usr/local /install


FROM python:3.11-slim
# tini as PID 1 (see ENTRYPOINT below).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 DATA_DIR=/data
COPY --from=build /install /usr/local

# A fixed, non-root uid (10001) so a bind-mounted data directory can be chowned to it. /data is
# made here, owned by that user and 0700, before VOLUME: a new named volume starts as a copy of
# it (owner and mode included).
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin tradecord \
 && install -d -m 0700 -o tradecord -g tradecord /data
USER tradecord
WORKDIR /home/tradecord
# Matplotlib's font list, built once here rather than at the first chart of every new container.
RUN python -c "import matplotlib.font_manager"
VOLUME ["/data"]

# The engine rewrites $DATA_DIR/heartbeat every 5 s from its event loop: a stale file means a
# dead or blocked process.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "bot", "health"]

# `docker stop` sends SIGTERM; tini passes it on to the agent, which stops in order and exits 0.
# The agent takes SIGTERM from its first line (bot/signals.py), but Python needs some 50 ms to
# get there. Without tini the agent is PID 1, and the kernel drops a signal that PID 1 has no
# handler for: a stop in those 50 ms is lost, and `docker stop` waits its 10 s and kills it.
# tini catches the signal at any moment; in those 50 ms it ends Python, which has done nothing
# yet (exit 143: SIGTERM), and `-e 143` reports that stop as the clean exit it is (0). From its
# first line on the agent never dies of SIGTERM, so 143 means nothing else.
ENTRYPOINT ["tini", "-e", "143", "--"]
CMD ["python", "-m", "bot", "run", "--headless"]
