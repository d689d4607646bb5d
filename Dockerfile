# c360 container image: `docker build -t c360 .` (docker-compose.yml builds it too).
# Stage 1 builds the one binary with Debian's -dev packages; stage 2 holds only the runtime
# libraries it links against and runs as an unprivileged user.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/setup scripts/setup
RUN scripts/setup --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
# RelWithDebInfo (-O2): the build the tests run on; stripped below.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DC360_BUILD_TESTS=OFF -DC360_UNITY_BUILD=ON \
 && cmake --build /build --target c360 \
 && strip /build/c360

FROM debian:12-slim
# The shared libraries of the binary (tests/deploy/deploy_test.py checks this list against
# `ldd`), and CA certificates for TLS to a real Kafka cluster.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates librdkafka1 libprotobuf32 libprometheus-cpp-core1.0 libspdlog1.10 libfmt9 \
      libyaml-cpp0.7 libsimdjson14 libssl3 libsasl2-2 libbz2-1.0 liblz4-1 \
      libsnappy1v5 libzstd1 zlib1g libjemalloc2 libcpp-httplib0.11 libbrotli1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/c360 --create-home c360
COPY --from=build /build/c360 /usr/local/bin/c360
USER c360
WORKDIR /var/lib/c360
VOLUME /var/lib/c360
EXPOSE 8080
# The engine's liveness, as docker-compose.yml checks it: GET /healthz (no curl here).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && grep -q '^HTTP/1.[01] 200' <&3"]
ENTRYPOINT ["/usr/local/bin/c360"]
CMD ["engine", "--brokers", "kafka:9092", "--state-dir", "/var/lib/c360/state", "--http", "0.0.0.0:8080"]
