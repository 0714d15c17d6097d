# ATP's image: `atp run` (monitor, trader, HTTP API, dashboard) as a non-root user.
#
# Installs only from a wheelhouse made on the host (scripts/build-wheelhouse.sh: the
# dependencies pinned by requirements.lock plus the atp wheel), so the build itself needs
# no package index. BASE is any image with CPython 3.11 as `python3` and its venv module:
# python:3.11-slim by default; offline, the Debian base of scripts/build-base-image.sh.
#   scripts/build-wheelhouse.sh && docker build -t atp .
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/atp/bin:$PATH \
    LOG_FORMAT=text
RUN (getent group atp >/dev/null || groupadd --system --gid 10001 atp) \
 && useradd --system --uid 10001 --gid atp --home-dir /var/lib/atp --create-home \
      --shell /usr/sbin/nologin atp \
 && python3 -m venv /opt/atp
# The dependencies first, in their own layer: a rebuild after a change of ATP's code alone
# reuses it. Bytecode compiled at install (site-packages is read-only to the runtime user:
# without it every start would compile ccxt and the rest again, ~15 s of CPU).
COPY wheelhouse/deps/ /tmp/deps/
RUN pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check -q \
      /tmp/deps/*.whl \
 && rm -rf /tmp/deps
COPY scripts/docker-entrypoint.sh /usr/local/bin/atp-entrypoint
COPY wheelhouse/atp/ /tmp/atp/
RUN pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check -q \
      /tmp/atp/*.whl \
 && pip check \
 && rm -rf /tmp/atp \
 && chmod 0755 /usr/local/bin/atp-entrypoint

USER atp
WORKDIR /var/lib/atp
# Unhealthy unless /api/health says `ok`: `down` (scheduler stopped) and `degraded`
# (database or exchange unreachable, no cycle for too long) both show in `docker ps`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-m", "atp.healthcheck"]
ENTRYPOINT ["atp-entrypoint"]
CMD ["atp", "run"]
