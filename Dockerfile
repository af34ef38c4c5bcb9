# CPU image by default; on a GPU host the same torch wheel uses CUDA when the container is given the GPU.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md Makefile ./
COPY streamer ./streamer
COPY pipelines ./pipelines
RUN pip install --no-cache-dir "torch==2.14.1" "torchvision==0.29.1" && pip install --no-cache-dir -e .
COPY configs ./configs
COPY scripts ./scripts
RUN streamer models pull --dest /app/models && streamer samples pull --dest /app/data/samples \
    && streamer models export --config configs/example.yaml   # the engine's OpenVINO exports, cached in models/cache
# an unprivileged user owns what the service writes (data/, the export cache under models/); nothing runs as root
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin streamer \
    && mkdir -p /app/data && chown -R streamer:streamer /app/data /app/models
USER streamer
ENTRYPOINT ["streamer"]
CMD ["run", "--config", "configs/example.yaml"]
