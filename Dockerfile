# altbot — slim image, non-root user, `altbot run` as the entrypoint.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY alerts ./alerts
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 MPLBACKEND=Agg
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 altbot
USER altbot
WORKDIR /home/altbot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["altbot"]
CMD ["run"]
