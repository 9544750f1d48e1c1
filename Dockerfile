# One image for every role (api, worker, beat, receivers); the command picks the role.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UTILITARIAN_DATA_DIR=/var/lib/utilitarian
RUN apt-get update && apt-get install -y --no-install-recommends gcc libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY utilitarian ./utilitarian
COPY meters ./meters
COPY amr ./amr
COPY gateway ./gateway
COPY powerbox ./powerbox
COPY pie ./pie
COPY push ./push
COPY protocols ./protocols
COPY manage.py ./
RUN pip install --no-cache-dir . && DEBUG=0 SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "utilitarian.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
