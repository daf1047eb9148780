# The bqmanage image: the wheel built from this checkout, in a virtual environment, run as a
# non-root user with `bqmanage` as the entrypoint. It works with a read-only root filesystem:
# nothing is written at run time except under /tmp (HOME and the caches point there), and the
# local engine's .bqmanage/ only when the local target is used from a writable working directory.
#
#   docker build -t bqmanage .
#   docker run --rm --read-only --tmpfs /tmp -v "$PWD/schemas:/warehouse/schemas:ro" bqmanage validate
#
# PYTHON_IMAGE: pin it by digest in production (python:3.11-slim-bookworm@sha256:...); the
# release workflow (.github/workflows/release.yml) prints the digest of the image it pushes.
# Any Debian-like image with python3 (3.11+), its venv module and useradd works.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# checkov:skip=CKV_DOCKER_7:FROM names the PYTHON_IMAGE argument, whose default is a version tag (never latest); pin a digest at build time

# --- stage 1: build the wheel (and nothing else) from the sources ---------------------------
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
COPY pyproject.toml README.md LICENSE MANIFEST.in ./
COPY bqmanage/ bqmanage/
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install "build>=1.2" \
 && /opt/build/bin/python -m build --wheel --outdir /dist .

# --- stage 2: the runtime: the wheel installed into /opt/bqmanage, no build tools -----------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="bqmanage" \
      org.opencontainers.image.description="Keep a multi-tenant BigQuery warehouse exactly as its YAML definitions say." \
      org.opencontainers.image.source="https://github.com/bqmanage/bqmanage" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY --from=wheel /dist/ /tmp/dist/
# pip compiles the .pyc files at install time, so that nothing needs writing at run time; pip is
# then removed from the runtime environment.
RUN python3 -m venv /opt/bqmanage \
 && /opt/bqmanage/bin/pip install /tmp/dist/*.whl \
 && /opt/bqmanage/bin/python -m pip uninstall --yes pip \
 && rm -rf /tmp/dist \
 && groupadd --system --gid 10001 bqmanage \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin bqmanage \
 && mkdir /warehouse
ENV PATH=/opt/bqmanage/bin:$PATH \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    XDG_CONFIG_HOME=/tmp/.config \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Definitions are mounted (or copied, in an image built FROM this one) at /warehouse/schemas.
WORKDIR /warehouse
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# A batch command-line tool: each run is one command that exits; there is no service to probe.
HEALTHCHECK NONE
ENTRYPOINT ["bqmanage"]
CMD ["--help"]
