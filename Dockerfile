# irsa-webhook container image: a Debian bookworm builder that installs the
# Makefile's BUILD_PACKAGES and builds only the binary in Release (`make
# binary`: no tests, no GoogleTest, no python), and a runtime
# stage FROM scratch with only the binary, the shared libraries it links
# (resolved with ldd in the builder), the dynamic loader, CA certificates and
# a passwd/group entry for UID/GID 65532. No shell, no package manager, no
# compiler, no headers.
#
#   make image        (docker build where a daemon answers, else buildah)
#   docker build --build-arg REVISION=$(git describe --always --dirty --tags) -t irsa-webhook .
#
# .git is not in the build context (.dockerignore): pass REVISION, which
# `irsa-webhook --version` reports.

FROM docker.io/library/debian:bookworm AS builder
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# `make deps-binary` needs make; it then installs the Makefile's
# BUILD_PACKAGES. A layer of its own, rebuilt only when the Makefile changes.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
RUN make deps-binary && rm -rf /var/lib/apt/lists/*

COPY . .
ARG REVISION=unknown
# CMake reads the revision with `git describe --always --dirty --tags`;
# without .git, a throwaway repository tagged REVISION gives it the same answer.
RUN if [ ! -e .git ]; then \
      git init -q \
      && git -c user.name=image -c user.email=image@localhost commit -q --allow-empty -m "$REVISION" \
      && git tag "$REVISION"; \
    fi
RUN make binary BUILD_TYPE=Release BUILD_DIR=build-image

# The runtime tree: the stripped binary, exactly the libraries ldd resolves
# (copied to the paths the loader found them at) and the loader itself.
RUN set -eu; \
    root=/rootfs; \
    mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp"; \
    install -m 0755 -s build-image/irsa-webhook "$root/usr/local/bin/irsa-webhook"; \
    ldd build-image/irsa-webhook \
      | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' \
      | sort -u \
      | while read -r lib; do \
          mkdir -p "$root$(dirname "$lib")"; \
          cp -L "$lib" "$root$lib"; \
        done; \
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"; \
    printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"; \
    chmod 1777 "$root/tmp"; \
    chroot "$root" /usr/local/bin/irsa-webhook --version; \
    echo "runtime files:"; find "$root" -type f -printf '%s\t%p\n' | sort -n

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/irsa-webhook/irsa-webhook
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.title="irsa-webhook" \
      org.opencontainers.image.description="Kubernetes mutating admission webhook: AWS IAM roles for ServiceAccounts (IRSA), a drop-in for amazon-eks-pod-identity-webhook" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="${LICENSES}"
COPY --from=builder /rootfs/ /
USER 65532:65532
EXPOSE 8443 9999
ENTRYPOINT ["/usr/local/bin/irsa-webhook"]
