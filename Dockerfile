# sentitrade: one image for every role (`sentitrade run --role all|collector|engine|chat|api`).
# Slim, non-root; numba's cache is compiled at build time so a container's first candle
# is not spent compiling kernels. Build: docker build -t sentitrade .
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine engine
COPY sentiment sentiment
COPY commands commands
COPY bot bot
COPY web web
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres,redis]"

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 sentitrade
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY alembic.ini /app/alembic.ini
COPY deploy/warm_numba.py /app/warm_numba.py
ENV NUMBA_CACHE_DIR=/app/numba-cache PYTHONUNBUFFERED=1 SENTITRADE_DATABASE__URL=sqlite:////data/sentitrade.db
RUN mkdir -p /app/numba-cache /data && python /app/warm_numba.py \
    && chown -R sentitrade /app /data && chmod -R a+rX /app/numba-cache
USER sentitrade
WORKDIR /app
VOLUME ["/data"]
ENTRYPOINT ["sentitrade"]
CMD ["run", "--role", "all"]
