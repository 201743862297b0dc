# The one image for every IMN service (imn dbos, imn server; imn-agent for the agents): built with the official
# Swift image, run on slim Debian with the C libraries IMN links.
FROM swift:6.1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libhiredis-dev libnats-dev libcurl4-openssl-dev libprotobuf-c-dev zlib1g-dev libldns-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
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
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/imn /usr/local/bin/imn
COPY --from=build /usr/local/bin/imn-agent /usr/local/bin/imn-agent
ENTRYPOINT ["imn"]
CMD ["--help"]
