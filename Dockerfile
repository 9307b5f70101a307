# The FitStream application image: one image, every role (process, sink, serve, topics).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY fitstream fitstream
COPY streams streams
COPY sinks sinks
COPY api api
COPY bench bench
COPY schemas schemas
RUN pip install --no-cache-dir . && useradd --system fitstream \
    && mkdir -p /var/lib/fitstream && chown fitstream /var/lib/fitstream
USER fitstream
ENV FITSTREAM_STATE_DIR=/var/lib/fitstream \
    FITSTREAM_SCHEMA_REGISTRY__REPO_REGISTRY_PATH=/app/schemas/registry.json
ENTRYPOINT ["fitstream"]
