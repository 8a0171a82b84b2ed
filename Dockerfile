# syntax=docker/dockerfile:1.7
# One image per service: `docker build --target <gateway|registry|trainer|inference> -t maas-<target> .`
# GPU variants: `--target trainer-gpu` / `--target inference-gpu` (tensorflow[and-cuda]).
# Gateway and registry carry no TensorFlow; the TensorFlow images also carry the Kubernetes
# client (the trainer's launcher of multi-worker jobs). Every final stage runs as a non-root user and
# holds no compilers: wheels are built in the builder stage only.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY maas ./maas
COPY services ./services
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[server,s3]" \
    && pip wheel --no-cache-dir --wheel-dir /wheels-ml ".[server,ml,s3,k8s]" \
    && pip wheel --no-cache-dir --wheel-dir /wheels-gpu ".[server,s3,k8s]" "tensorflow[and-cuda]>=2.21"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MAAS_BIND_HOST=0.0.0.0 \
    MAAS_DATA_DIR=/data
RUN groupadd --system --gid 10001 maas \
    && useradd --system --uid 10001 --gid maas --home-dir /data --no-create-home maas \
    && mkdir -p /data \
    && chown maas:maas /data
WORKDIR /data

FROM runtime AS slim-deps
RUN --mount=from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "maas[server,s3]"

FROM runtime AS ml-deps
RUN --mount=from=builder,source=/wheels-ml,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "maas[server,ml,s3,k8s]"

FROM runtime AS gpu-deps
RUN --mount=from=builder,source=/wheels-gpu,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels "maas[server,s3,k8s]" "tensorflow[and-cuda]"

FROM slim-deps AS gateway
USER 10001:10001
EXPOSE 50051 8080 9101
ENTRYPOINT ["python", "-m", "services.gateway"]

FROM slim-deps AS registry
USER 10001:10001
EXPOSE 50052 9102
ENTRYPOINT ["python", "-m", "services.registry"]

FROM ml-deps AS trainer
USER 10001:10001
EXPOSE 50053 9103
ENTRYPOINT ["python", "-m", "services.trainer"]

FROM ml-deps AS inference
USER 10001:10001
EXPOSE 50054 9104
ENTRYPOINT ["python", "-m", "services.inference"]

FROM gpu-deps AS trainer-gpu
USER 10001:10001
EXPOSE 50053 9103
ENTRYPOINT ["python", "-m", "services.trainer"]

FROM gpu-deps AS inference-gpu
USER 10001:10001
EXPOSE 50054 9104
ENTRYPOINT ["python", "-m", "services.inference"]
