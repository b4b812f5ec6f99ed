# nanochat Lab web image: daphne serving Django (HTTP + websockets) in production mode.
# Build from the repository root:  docker build -f docker/web.Dockerfile -t nanochat-lab-web .
# The web process never imports torch, so this image carries no torch (the worker images do).
FROM python:3.11-slim-bookworm AS frontend
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
# the JSON Schemas the build generates the wire types and validators from (frontend/scripts/gen-wire.mjs)
COPY labplatform/schemas/ /src/labplatform/schemas/
COPY grading/engine/result.schema.json /src/grading/engine/result.schema.json
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LAB_MODE=production LAB_VAR_DIR=/srv/lab/var
RUN apt-get update && apt-get install -y --no-install-recommends gettext libpq5 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /srv/lab lab
WORKDIR /srv/lab/app
COPY requirements.txt ./
# Every pin except torch (the web tier never imports it).
RUN grep -v '^torch==' requirements.txt > /tmp/req-web.txt && pip install --no-cache-dir -r /tmp/req-web.txt
COPY manage.py ./
COPY labplatform/ labplatform/
COPY modules/ modules/
COPY grading/ grading/
COPY content/ content/
COPY locale/ locale/
COPY --from=frontend /src/frontend/dist/ frontend/dist/
RUN python manage.py compilemessages -v0 && mkdir -p /srv/lab/var && chown -R lab /srv/lab/var
USER lab
EXPOSE 8000
# Migrations and content sync run as one-off jobs (compose service "migrate"), not on every web start.
CMD ["python", "manage.py", "runlab", "--host", "0.0.0.0", "--port", "8000"]
