# Airflow image for the vaxreg pipelines: the official image plus the project,
# installed with the project's lock (constraints.txt) so that the containers run
# exactly the versions the tests ran. Built by docker-compose.yaml (build context:
# the repository root; docker/airflow.Dockerfile.dockerignore keeps var/, .venv/
# and .git/ out of the context: var/ may hold landing copies with personal data).
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER root
# /opt/vaxreg mirrors the repository layout (vaxreg.config finds expectations/ from
# the package's location); var/ is the mount point of the shared staging volume, and
# /opt/airflow/auth the one of the UI passwords file. Named volumes take this ownership.
RUN mkdir -p /opt/vaxreg/var /opt/airflow/auth \
    && chown -R airflow:0 /opt/vaxreg /opt/airflow/auth \
    && chmod 0770 /opt/vaxreg/var /opt/airflow/auth  # group 0: any AIRFLOW_UID with gid 0
USER airflow
WORKDIR /opt/vaxreg

COPY --chown=airflow:0 pyproject.toml constraints.txt ./
COPY --chown=airflow:0 include ./include
RUN pip install --no-cache-dir -c constraints.txt -e .

# Baked in so the image runs on its own; docker-compose.yaml mounts the working tree over them.
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 plugins ./plugins
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 docs/runbook.md ./docs/runbook.md

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/vaxreg/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/vaxreg/plugins \
    VAXREG_HOME=/opt/vaxreg/var \
    GX_ANALYTICS_ENABLED=False
