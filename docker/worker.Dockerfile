# nanochat Lab grading worker (CPU queue): Celery + the grading engine; learner code runs in sibling sandbox
# containers (SANDBOX_BACKEND=docker, image docker/sandbox/), started through the host's Docker socket.
# Build from the repository root:  docker build -f docker/worker.Dockerfile -t nanochat-lab-worker .
FROM python:3.11-slim-bookworm
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LAB_MODE=production LAB_VAR_DIR=/srv/lab/var
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/lab/app
COPY requirements.txt ./
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" torch==2.13.0 \
    && pip install --no-cache-dir -r requirements.txt
COPY manage.py ./
COPY labplatform/ labplatform/
COPY modules/ modules/
COPY grading/ grading/
COPY sandbox/ sandbox/
COPY nanochat_ref/ nanochat_ref/
COPY content/ content/
# The worker talks to the Docker engine, so it runs as root inside its own container; learner code never does
# (sandbox containers run as an unprivileged uid with every capability dropped).
CMD ["celery", "-A", "labplatform", "worker", "-Q", "cpu", "--concurrency", "2", "-n", "cpu@%h", "-l", "info"]
