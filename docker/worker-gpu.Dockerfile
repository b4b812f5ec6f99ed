# nanochat Lab grading worker for the GPU lane (modules whose limits say gpu: true). Built outside CI
# (`scripts/stack-images.sh --gpu`). The worker process itself needs no CUDA: it only starts sandbox containers,
# and those get the GPU through NVIDIA device requests (sandbox/docker.py) from the CUDA sandbox image
# (nanochat-lab-sandbox:cuda, docker/sandbox/Dockerfile with TORCH_INDEX set to a CUDA index). The host needs the
# NVIDIA driver and the NVIDIA container toolkit.
ARG WORKER_IMAGE=nanochat-lab-worker:latest
FROM ${WORKER_IMAGE}
ENV SANDBOX_DOCKER_IMAGE=nanochat-lab-sandbox:cuda LAB_GPU_WORKER=true
CMD ["celery", "-A", "labplatform", "worker", "-Q", "gpu", "--concurrency", "1", "-n", "gpu@%h", "-l", "info"]
