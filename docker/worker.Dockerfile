# nanochat Lab grading worker (Celery; the lane is its -Q): the grading engine, with learner code in sibling
# sandbox containers (SANDBOX_BACKEND=docker, image docker/sandbox/) started through the host's Docker socket.
# Built by scripts/stack-images.sh FROM the Python base (docker/python.Dockerfile), torch from the wheelhouse.
# The worker talks to the Docker engine, so it runs as root in its own container; learner code never does
# (sandbox containers run as an unprivileged uid with every capability dropped).
ARG PYTHON_IMAGE=nanochat-lab-python:latest
FROM ${PYTHON_IMAGE}
COPY wheels/ /tmp/wheels/
RUN /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels torch==2.13.0 \
    && rm -rf /tmp/wheels
ENV LAB_MODE=production LAB_VAR_DIR=/srv/lab/var SANDBOX_BACKEND=docker
WORKDIR /srv/lab/app
COPY app/ ./
COPY worker-entrypoint.sh /usr/local/bin/lab-worker
RUN python -m compileall -q labplatform modules grading sandbox && mkdir -p /srv/lab/var
ENTRYPOINT ["/usr/local/bin/lab-worker"]
CMD ["celery", "-A", "labplatform", "worker", "-Q", "short", "--concurrency", "2", "-n", "short@%h", "-l", "info"]
# the app copy's name in the jobs folder (docker/worker-entrypoint.sh); last, so it rebuilds nothing above
ARG LAB_IMAGE_HASH=dev
ENV LAB_IMAGE_HASH=${LAB_IMAGE_HASH}
