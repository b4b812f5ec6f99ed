# PostgreSQL for the compose stack: Debian's postgresql-15 FROM the local Debian base (no registry here).
# docker/postgres-entrypoint.sh makes the cluster on first start (user and database from POSTGRES_USER /
# POSTGRES_DB, password from POSTGRES_PASSWORD_FILE) and runs the server as the postgres user.
ARG BASE=nanochat-lab-base:bookworm
FROM ${BASE}
# the package's own cluster is not made: the entrypoint makes one in the volume
RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /run/postgresql && chmod 0700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/lab-postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/lab-postgres"]
