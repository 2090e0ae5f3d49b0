# syntax=docker/dockerfile:1
# multusctl image: the node installer (`multusctl entrypoint` / `multusctl install`), the
# thick daemon (`multusctl daemon`) and the self-contained node executables `multus` (thin)
# and `multus-shim` (thick).
#
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/multusctl/multusctl:0.1.0 .
#
# Stage 1 (builder): a venv with the package, and the PyInstaller --onedir builds of the
# node executables (scripts/build-node-binary.sh), which carry their own interpreter so
# nodes need no Python. Stage 2: the slim runtime with the venv, the frozen builds under
# /usr/src/multus-cni/frozen/multus (multusctl install's default --frozen-dir) and
# /usr/src/multus-cni/frozen/multus-shim (its default --frozen-shim-dir, which the thick
# DaemonSet's init container installs on nodes without python3 >= 3.11), and the
# /entrypoint.sh shim for manifests written for upstream's v3 images.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# binutils: PyInstaller strips the bundled shared libraries with `strip` (--strip)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /usr/src/multusctl
COPY pyproject.toml README.md ./
COPY multusctl ./multusctl
COPY scripts/build-node-binary.sh ./scripts/build-node-binary.sh
# the runtime venv: the package and its dependencies only
RUN python -m venv /opt/multusctl \
    && /opt/multusctl/bin/pip install --no-compile . \
    && /opt/multusctl/bin/python -m compileall -q /opt/multusctl/lib
# the node executables, built in a separate venv so PyInstaller stays out of the runtime
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install . "pyinstaller>=6.10,<7" \
    && bash scripts/build-node-binary.sh --python /opt/build/bin/python --out /out \
    && bash scripts/build-node-binary.sh --target multus-shim \
        --python /opt/build/bin/python --out /out \
    && /out/multus/multus -version \
    && /out/multus-shim/multus-shim -version

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="multusctl" \
      org.opencontainers.image.description="Multus CNI meta-plugin in Python: node installer, thick daemon and self-contained plugin and shim" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/multusctl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    MULTUSCTL_IMAGE_VERSION=${VERSION}
COPY --from=builder /opt/multusctl /opt/multusctl
COPY --from=builder /out/multus /usr/src/multus-cni/frozen/multus
COPY --from=builder /out/multus-shim /usr/src/multus-cni/frozen/multus-shim
COPY entrypoint/entrypoint.sh /entrypoint.sh
COPY images/70-multus.conf /usr/src/multus-cni/images/70-multus.conf
RUN multusctl --version \
    && /usr/src/multus-cni/frozen/multus/multus -version \
    && /usr/src/multus-cni/frozen/multus-shim/multus-shim -version
WORKDIR /
ENTRYPOINT ["/entrypoint.sh"]
