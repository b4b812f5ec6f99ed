# Redis for the compose stack (Celery broker + websocket channel layer): Debian's redis-server FROM the local
# Debian base (no registry here). Append-only file in the volume at /data.
ARG BASE=nanochat-lab-base:bookworm
FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes"]
