# Chronosched image: one image, the command picks the role (server, worker, scheduler, migrate).
# Provided for `docker compose up --build`; not built on our CI machines (no Docker engine there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# tini reaps processes that jobs leave behind when the worker runs as PID 1; tzdata for cron zones.
RUN apt-get update && apt-get install -y --no-install-recommends tini tzdata \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --create-home chronosched
USER chronosched

EXPOSE 8080
ENTRYPOINT ["tini", "--", "chronosched"]
CMD ["server", "--host", "0.0.0.0", "--port", "8080"]
