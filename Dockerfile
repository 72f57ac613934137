# One image for every leadflow service: `leadflow serve <service>` or `leadflow migrate`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY shared ./shared
COPY services ./services
# Pinned by the lock file, as make and CI install; without the embedded broker and the charts (extras).
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --constraint requirements.lock --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app leadflow
WORKDIR /app
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER leadflow
ENV LEADFLOW_ENVIRONMENT=production PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz', timeout=2)"
ENTRYPOINT ["leadflow"]
CMD ["serve", "intake", "--host", "0.0.0.0", "--port", "8000"]
