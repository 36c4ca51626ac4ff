# One image for web, worker, beat, migrate and kubesim (docker-compose.yml, Helm chart).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=meshboard.settings
WORKDIR /app
# Same install as the README, without the [embedded] extra (real Postgres/Redis in containers).
COPY pyproject.toml README.md ./
COPY meshboard meshboard
COPY adoption adoption
COPY kubesim kubesim
RUN pip install .
COPY manage.py ./
COPY templates templates
COPY static static
COPY deploy/docker/start deploy/docker/start
RUN MESHBOARD_ENV=development python manage.py collectstatic --noinput \
    && useradd --uid 10001 --no-create-home meshboard
USER 10001
EXPOSE 8000
ENTRYPOINT ["deploy/docker/start"]
CMD ["web"]
