# ClassCord container image: one static binary on an empty base image (scratch), run as an
# unprivileged user, accounts in the /data volume, chat on TCP port 12345. See CONTAINERS.md.
#
# From the sources (needs internet access: the Rust image and the crates):
#   docker build -t classcord .                          (or: podman build -t classcord .)
# From a static binary already built on this machine (no image registry needed):
#   cargo build --release --target x86_64-unknown-linux-musl
#   podman build --build-arg BINARY_FROM=local -t classcord .
# Settings: /etc/classcord/classcord.toml (mount your own) and CLASSCORD_* variables.

# Which stage provides /out/classcord: "builder" (compile here) or "local" (target/ dir).
ARG BINARY_FROM=builder

FROM docker.io/library/rust:1-bookworm AS builder
ARG TARGETARCH
WORKDIR /src
COPY . .
# Native build for the image's architecture (amd64 or arm64), static with musl; the linker and
# C compiler set in .cargo/config.toml for cross builds are not needed in here (ring, under the
# dashboard's rustls, builds C code with the native cc).
RUN case "${TARGETARCH:-amd64}" in \
        amd64) target=x86_64-unknown-linux-musl ;; \
        arm64) target=aarch64-unknown-linux-musl ;; \
        *) echo "architecture non prise en charge : ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && rustup target add "$target" \
    && CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=cc CC_aarch64_unknown_linux_musl=cc \
       AR_aarch64_unknown_linux_musl=ar cargo build --release --locked -p classcord --target "$target" \
    && install -D -m 755 "target/$target/release/classcord" /out/classcord

FROM scratch AS local
ARG LOCAL_TARGET=x86_64-unknown-linux-musl
COPY target/${LOCAL_TARGET}/release/classcord /out/classcord

FROM ${BINARY_FROM} AS binary

FROM scratch
COPY --from=binary /out/classcord /usr/bin/classcord
# Not root: a fixed uid/gid (no /etc/passwd in the image). Owners of a bind-mounted /data must
# match it: chown 10001:10001 DIR.
USER 10001:10001
# Created owned by 10001 (WORKDIR after USER); a new named volume copies that ownership.
WORKDIR /data
COPY etc/classcord.toml /etc/classcord/classcord.toml
# The file's data_dir is relative; in the image the data lives in the volume.
ENV CLASSCORD_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 12345/tcp
# The browser chat page and its WebSocket ([web] in the configuration).
EXPOSE 8080/tcp
# Asks the server for a pong on 127.0.0.1:12345 (exit 0 = healthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/bin/classcord", "healthcheck", "--quiet"]
# SIGTERM (docker stop) = clean shutdown: clients told, database closed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/classcord"]
CMD ["serve", "--config", "/etc/classcord/classcord.toml"]
