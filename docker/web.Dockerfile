# nanochat Lab web image: `runlab` in production mode (uvicorn, LAB_WEB_WORKERS processes; docs/operations.md,
# "Web tier"), HTTP + websockets + /static/. No torch. Built by scripts/stack-images.sh FROM the Python base
# (docker/python.Dockerfile); the context holds the app's files and the frontend already built outside Docker
# (`make frontend`: dist/ with its Brotli and gzip variants) and the handout figures (`make figures`).
ARG PYTHON_IMAGE=nanochat-lab-python:latest
FROM ${PYTHON_IMAGE}
ENV LAB_MODE=production LAB_VAR_DIR=/srv/lab/var LAB_CONTENT_DIR=/srv/lab/app/content \
    LAB_FIGURES_DIR=/srv/lab/figures LAB_FRONTEND_DIST_DIR=/srv/lab/app/frontend/dist
WORKDIR /srv/lab/app
COPY app/ ./
COPY figures/ /srv/lab/figures/
RUN python -m compileall -q labplatform modules grading \
    && mkdir -p /srv/lab/var && chown lab:lab /srv/lab/var
USER lab
EXPOSE 8000
# Migrations and content sync run as a one-off job (compose service "migrate"), not on every web start.
CMD ["python", "manage.py", "runlab", "--host", "0.0.0.0", "--port", "8000"]
