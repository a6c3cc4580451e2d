# The PRM application image: one image for the web server, the Celery worker,
# Celery beat and the one-shot migration job (see docker-compose.yml).
# All configuration comes from PRM_* environment variables at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=prm.settings
# Gunicorn's default number of worker processes; override per deployment.
ENV WEB_CONCURRENCY=3

WORKDIR /app

RUN groupadd --system --gid 10001 prm \
    && useradd --system --uid 10001 --gid prm --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin prm

# Dependencies first, so that code changes reuse this layer. Every package
# is pinned in requirements.lock; all of them ship wheels, no compiler needed.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY . .

# Static files are collected (hashed and compressed by WhiteNoise) at build
# time. The secret key below exists only for this command: it is not an ENV,
# so it is not in the image's configuration, and the settings refuse to start
# without a real PRM_SECRET_KEY at run time.
RUN PRM_DEBUG=0 PRM_SECRET_KEY=build-time-only-collectstatic-not-a-secret \
        python manage.py collectstatic --noinput \
    && python -m compileall -q .

# The code and static files stay owned by root: the app cannot modify them.
USER prm

EXPOSE 8000

# gthread workers (WEB_CONCURRENCY processes x 4 threads); recycle workers
# now and then; heartbeat files in memory (/dev/shm), not on the overlay
# filesystem; no control socket (it would go to the read-only $HOME; the
# container is managed with signals); access log to stdout, errors to stderr.
# TLS ends at the reverse proxy in front, which must keep the Host header and
# set X-Forwarded-Proto (see SECURE_PROXY_SSL_HEADER).
CMD ["gunicorn", "prm.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-class", "gthread", "--threads", "4", \
     "--timeout", "60", "--graceful-timeout", "30", "--keep-alive", "5", \
     "--max-requests", "1000", "--max-requests-jitter", "100", \
     "--worker-tmp-dir", "/dev/shm", "--no-control-socket", \
     "--access-logfile", "-", "--error-logfile", "-"]
