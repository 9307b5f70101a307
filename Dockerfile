# The FitStream application image: one image, every role (process, sink, serve, lakehouse,
# deliver, jobs), and the Spark master and workers of docker-compose.yml (pyspark's own
# Spark, so the cluster and the jobs' driver are the same version).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY cli cli
COPY fitstream fitstream
COPY streams streams
COPY sinks sinks
COPY delivery delivery
COPY stores stores
COPY jobs jobs
COPY models models
COPY feature_repo feature_repo
COPY api api
COPY bench bench
COPY schemas schemas
# The feast directory is docker-compose.yml's feast-registry mount point: a new named
# volume copies its owner from the image, so it must exist here, owned by the user.
# PyTorch's CPU index: PyPI's default torch wheel for Linux pulls the CUDA libraries.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        -c requirements.lock . && useradd --system fitstream \
    && mkdir -p /var/lib/fitstream/feast && chown -R fitstream /var/lib/fitstream
USER fitstream
ENV FITSTREAM_STATE_DIR=/var/lib/fitstream \
    FITSTREAM_SCHEMA_REGISTRY__REPO_REGISTRY_PATH=/app/schemas/registry.json \
    SPARK_LOCAL_IP=0.0.0.0
ENTRYPOINT ["fitstream"]
