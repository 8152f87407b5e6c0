# kuadns-sync: one image for the sync loop (CronJob or sidecar) and the embedded GeoDNS server.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kuadns_sync ./kuadns_sync
COPY templates ./templates
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.12-slim
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1
# Numeric user: Kubernetes runAsNonRoot can only verify a numeric UID.
USER 65532:65532
# Unprivileged port inside the container; the Service maps 53 -> 5353.
EXPOSE 5353/udp 5353/tcp 8080/tcp
ENTRYPOINT ["kuadns-sync"]
CMD ["serve", "--bundle", "/var/lib/kuadns/bundle", "--geoip", "/etc/kuadns/GeoLite2-City.mmdb", "--listen", "0.0.0.0:5353", "--health-listen", "0.0.0.0:8080"]
