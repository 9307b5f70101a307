# The FitStream application image: one image, every role (process, sink, serve, lakehouse,
# deliver, jobs), the Spark master and workers of docker-compose.yml (pyspark's own
# Spark, so the cluster and the jobs' driver are the same version), and the Flink
# JobManager and TaskManagers (the Flink venv's own Flink, so the cluster, the job's
# client and its Python workers are one version and one code base).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The Flink processor's venv (`fitstream process --engine flink`, streams/flink): apache-flink
# pins numpy < 2.2, pyarrow < 17, pandas < 2.3, protobuf < 6, so it cannot share the app's
# environment (docs/flink-findings.md, section 1). Its own layer, before the sources: about
# 1 GB that changes only with requirements-flink.lock.
#
# /opt/flink-cluster-lib is the JobManager's and TaskManagers' FLINK_LIB_DIR: the
# apache-flink-libraries jars (Flink 2.0.2, with flink-dist), flink-python (the Python
# operators; `flink run` ships it with a job, a job submitted from Python does not) and
# the Kafka connector with kafka-clients and zstd. Not pyflink/lib itself: the connector
# package also drops flink-core, flink-runtime, ... 2.0.0 there, and the start scripts put
# lib/ on the classpath in name order, flink-dist last, so 2.0.0 classes would win.
ENV FLINK_VENV=/app/.venv-flink
ENV FLINK_HOME=$FLINK_VENV/lib/python3.11/site-packages/pyflink
COPY requirements-flink.lock ./
RUN python -m venv "$FLINK_VENV" \
    && "$FLINK_VENV/bin/pip" install --no-cache-dir pip==25.3 \
    && "$FLINK_VENV/bin/pip" install --no-cache-dir -r requirements-flink.lock \
    && mkdir -p /opt/flink-cluster-lib \
    && ln -s "$FLINK_HOME"/lib/*-2.0.2.jar "$FLINK_HOME"/lib/log4j-*.jar \
        "$FLINK_HOME"/opt/flink-python-2.0.2.jar "$FLINK_HOME"/lib/flink-connector-kafka.jar \
        "$FLINK_HOME"/lib/kafka-clients.jar "$FLINK_HOME"/lib/zstd-jni.jar /opt/flink-cluster-lib/
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
# The feast and flink-checkpoints directories are docker-compose.yml's mount points: a new
# named volume copies its owner from the image, so they must exist here, owned by the user.
# PyTorch's CPU index: PyPI's default torch wheel for Linux pulls the CUDA libraries.
# Our package goes into the Flink venv without its dependencies (the job needs only the
# library, pinned in requirements-flink.lock), the same way `make flink-venv` does it.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
        -c requirements.lock . \
    && "$FLINK_VENV/bin/pip" install --no-cache-dir --no-deps . \
    && useradd --system fitstream \
    && mkdir -p /var/lib/fitstream/feast /var/lib/fitstream/flink-checkpoints \
    && chown -R fitstream /var/lib/fitstream
USER fitstream
# The Flink venv's interpreter for `fitstream process --engine flink` (the default path is
# relative to a source checkout, which the image does not have). Flink's logs: stdout,
# and files under /tmp (the default, inside the venv, is not the user's to write).
ENV FITSTREAM_STATE_DIR=/var/lib/fitstream \
    FITSTREAM_SCHEMA_REGISTRY__REPO_REGISTRY_PATH=/app/schemas/registry.json \
    FITSTREAM_PROCESSOR__FLINK__PYTHON=/app/.venv-flink/bin/python \
    FLINK_LOG_DIR=/tmp \
    SPARK_LOCAL_IP=0.0.0.0
ENTRYPOINT ["fitstream"]
