# fpi image: the pipeline, the CLI and the dashboard.
# bytewax 0.21.1 has wheels for CPython <= 3.12 only.
FROM python:3.12-slim
WORKDIR /app
# chromium prints the PDF report (`fpi report --out x.pdf`, PDF subscriptions)
RUN apt-get update && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY core ./core
COPY fpi ./fpi
COPY flows ./flows
COPY metrics ./metrics
COPY dashboard ./dashboard
COPY sample_streams ./sample_streams
RUN pip install --no-cache-dir --no-deps -e .
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["fpi"]
