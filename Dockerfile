# The Scoreboard service: a slim image that runs as an unprivileged user.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /srv/scoreboard
COPY pyproject.toml README.md ./
COPY app ./app
COPY notify ./notify
COPY sql ./sql
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && useradd --system --uid 10001 scoreboard
USER scoreboard
EXPOSE 8000
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--timeout-graceful-shutdown", "5", "--no-proxy-headers"]
