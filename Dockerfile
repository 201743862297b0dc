# The one image for every IMN service (imn dbos, imn server; imn-agent for the agents): built with the official
# Swift image, run on slim Debian with the C libraries IMN links, as the non-root user imn (uid 10001).
# The Swift packages are resolved to the versions in Package.versions, the ones CI tests.
FROM swift:6.2-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libhiredis-dev libnats-dev libcurl4-openssl-dev libprotobuf-c-dev zlib1g-dev libldns-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift Package.versions ./
COPY scripts/package-versions ./scripts/
RUN scripts/package-versions pin
COPY Sources ./Sources
COPY proto ./proto
RUN swift build -c release --product imn --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/imn" /usr/local/bin/imn
# The agent alone, optimised for size: it runs on many small hosts (idle RSS < 30 MB).
RUN swift build -c release --product imn-agent --static-swift-stdlib -Xswiftc -Osize --build-path .build-agent \
    && cp "$(swift build -c release --build-path .build-agent --show-bin-path)/imn-agent" /usr/local/bin/imn-agent

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libhiredis0.14 libnats3.4 libcurl4 libprotobuf-c1 zlib1g libldns3 ca-certificates curl \
        libcap2-bin \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/imn /usr/local/bin/imn
COPY --from=build /usr/local/bin/imn-agent /usr/local/bin/imn-agent
# Probes open raw ICMP and TCP sockets: the agent binary carries CAP_NET_RAW (compose keeps it in the
# container's bounding set), so it needs no root. /state is the agents' volume, owned by imn.
RUN setcap cap_net_raw+ep /usr/local/bin/imn-agent \
    && useradd --system --uid 10001 --home-dir /state --shell /usr/sbin/nologin imn \
    && mkdir -p /state && chown imn:imn /state
USER imn
ENTRYPOINT ["imn"]
CMD ["--help"]
