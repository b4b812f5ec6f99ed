# nanochat Lab grading worker for the GPU queue (modules whose limits say gpu: true).
# Same code as worker.Dockerfile, on a CUDA base with the CUDA build of torch; sandbox containers get the GPU via
# NVIDIA device requests (sandbox/docker.py). Needs the NVIDIA container toolkit on the host.
FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu124
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LAB_MODE=production LAB_VAR_DIR=/srv/lab/var \
    DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv libpq5 \
    && rm -rf /var/lib/apt/lists/* && python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
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
CMD ["celery", "-A", "labplatform", "worker", "-Q", "gpu", "--concurrency", "1", "-n", "gpu@%h", "-l", "info"]
