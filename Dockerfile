# syntax=docker/dockerfile:1
# The tunegate image: one static binary for the operator (`tunegate run`) and the volume worker
# (`tunegate worker`), on a distroless base: no shell, no package manager, non-root (uid 65532).
#   docker build -t tunegate/tunegate:0.1.0 .
# hack/build-static.sh runs the build stage's exact cargo command on the host and checks the
# result is statically linked; hack/lint-dockerfile.sh lints this file (hadolint).

ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
# musl gives a fully static binary: ring's C/assembly is compiled with musl-gcc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
 && rm -rf /var/lib/apt/lists/*
ARG TARGETARCH=amd64
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY crds ./crds
# One cargo invocation; the cache mounts keep the registry and target dir between builds.
# install -s strips the symbols (94 MB -> 23 MB); panics still name the failing location.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    case "${TARGETARCH}" in \
      amd64) target=x86_64-unknown-linux-musl ;; \
      arm64) target=aarch64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && rustup target add "${target}" \
 && cargo build --release --locked --target "${target}" --bin tunegate \
 && install -D -s -m 0755 "target/${target}/release/tunegate" /out/tunegate

# distroless/static: CA certificates, /etc/passwd with nonroot (65532), tzdata; nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="tunegate" \
      org.opencontainers.image.description="Kubernetes operator for fine-tuning hosted models on redacted, tracked training data" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/tunegate /usr/local/bin/tunegate
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tunegate"]
CMD ["run"]
