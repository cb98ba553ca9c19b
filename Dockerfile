# The Arbees worker image: one image, every agent group and connector picks its command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 ARBEES_CONFIG=/app/arbees.toml
WORKDIR /app
COPY pyproject.toml README.md arbees.toml ./
COPY schemas ./schemas
COPY streams ./streams
COPY connectors ./connectors
COPY migrations ./migrations
COPY ops ./ops
COPY data ./data
RUN pip install .  && useradd --system --uid 10001 arbees
USER arbees
ENTRYPOINT ["arbees"]
CMD ["--help"]
