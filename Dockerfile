# ragline HTTP service image.
#
#   docker build -t ragline .
#   docker run -p 8000:8000 -v ragline-data:/data ragline
#
# See docs/deployment.md. The checks in tests/deploy keep this file, deploy/compose.yaml and
# deploy/k8s/ consistent with each other and with ragline's settings.

# ---- build: a self-contained virtualenv in /opt/venv ---------------------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, pinned, from the CPU index: the pin matches the `export` extra in pyproject.toml, so
# the next install finds it satisfied instead of pulling the multi-GB CUDA build from PyPI.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /src
# README.md is the package's long description; setuptools needs it to build.
COPY pyproject.toml README.md ./
COPY src ./src
# export: torch/transformers, used once to export the packaged weights to ONNX (and by the
#         sentence-transformers backend); postgres: state in PostgreSQL; otlp: trace export.
RUN pip install '.[export,postgres,otlp,mcp,redis]'

# ---- runtime ---------------------------------------------------------------------------------------
FROM python:3.11-slim

# A fixed numeric uid/gid, so Kubernetes can verify runAsNonRoot and fsGroup can match it.
RUN groupadd --system --gid 10001 ragline \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/ragline ragline

COPY --from=build /opt/venv /opt/venv

# RAGLINE_CACHE_DIR holds the exported ONNX model. It lives in the image (not under /data) so the
# export done below ships with it, and a volume mounted on /data cannot hide it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RAGLINE_DATA_DIR=/data \
    RAGLINE_CACHE_DIR=/opt/ragline/cache

# /data is created and owned by the app user before VOLUME, so a fresh named volume inherits that
# ownership and the non-root process can write to it.
RUN mkdir -p /data /opt/ragline/cache \
    && chown 10001:10001 /data /opt/ragline/cache

USER 10001:10001
WORKDIR /home/ragline

# Pre-warm: export the packaged all-MiniLM-L6-v2 weights to ONNX now (~10 s), so containers start
# without doing it. Embedding one query triggers the export into RAGLINE_CACHE_DIR; it creates
# nothing in the throw-away data directory passed here.
RUN python -c "import ragline; ragline.open('/tmp/ragline-warm-up').embedder.embed_query('warm up')" \
    && rm -rf /tmp/ragline-warm-up

VOLUME ["/data"]
EXPOSE 8000

# Liveness only (/healthz); readiness (/readyz) is for orchestrators that route traffic. No curl in
# the slim image, so Python does the request: urlopen raises (exit 1) on errors and non-2xx codes.
# start-period covers start-up (imports, connecting to the state store).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["ragline", "serve", "--host", "0.0.0.0", "--port", "8000"]
