# nanochat Lab Python base of the web and worker images: the CPython the project is pinned and tested with
# (requirements.txt needs >= 3.11.5; Debian bookworm's python3 is 3.11.2) in a venv with every pin of
# requirements.txt except torch (the web tier never imports it; the worker image adds it on top).
# Built by scripts/stack-images.sh, offline: FROM the Debian rootfs the sandbox image uses (BASE, made with
# mmdebstrap); the interpreter is the build machine's own (python.tar: a CPython built on Debian bookworm, its
# standard library without tests), every package from a wheelhouse in the build context (PyPI does not answer a
# build container here).
ARG BASE=nanochat-lab-base:bookworm
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8 PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# the libraries the interpreter's extension modules link (ssl, sqlite3, ctypes, readline, ...), gettext for
# `manage.py compilemessages` (the .mo files are committed), libpq (psycopg's binary wheel carries its own; kept for
# the psql tools' sake)
RUN apt-get update && apt-get install -y --no-install-recommends gettext libpq5 libssl3 libsqlite3-0 libffi8 \
        libreadline8 libncursesw6 libexpat1 libnsl2 libuuid1 libbz2-1.0 liblzma5 zlib1g \
    && rm -rf /var/lib/apt/lists/*
ADD python.tar /opt/python/
# its libpython, found through the loader's cache (the binary's own run path names the build machine's folder)
RUN echo /opt/python/lib > /etc/ld.so.conf.d/lab-python.conf && ldconfig && /opt/python/bin/python3 -c "import ssl, sqlite3, ctypes"
COPY requirements-app.txt /tmp/requirements-app.txt
COPY wheels/ /tmp/wheels/
RUN /opt/python/bin/python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels -r /tmp/requirements-app.txt \
    && rm -rf /tmp/wheels /tmp/requirements-app.txt \
    && useradd --system --uid 10001 --user-group --home-dir /srv/lab --no-create-home lab
