# exaudit as a container image: `docker run ... exaudit run policies/ --server ...`, reports in /reports.
#
#   docker build -t exaudit .
#   docker run --rm -v "$PWD/out:/reports" exaudit demo --out /reports            # try it: the embedded lab
#   docker run --rm -v "$PWD/policies:/work/policies:ro" -v "$PWD/out:/reports" \
#     -e EXAUDIT_SERVER -e EXAUDIT_AUDIT_USER -e EXAUDIT_AUDIT_PASSWORD -e EXAUDIT_SERVICE_USER \
#     -e EXAUDIT_SERVICE_PASSWORD exaudit run policies/
#
# No secret is built in: passwords come from the environment or a mounted file at run time (--audit-password-file),
# a Kerberos ticket from a mounted ccache (KRB5CCNAME) or a keytab. The base is pinned to an exact release tag;
# pin it by digest too (python:3.11.12-slim-bookworm@sha256:...) where your registry policy asks for it.
ARG PYTHON_IMAGE=python:3.11.12-slim-bookworm

# --- build: wheels for exaudit and its Kerberos binding (gssapi and krb5 ship no Linux wheels: compiled here) ---
FROM ${PYTHON_IMAGE} AS build
# Debian packages are not version-pinned: the pinned base fixes the release (bookworm), and the mirror keeps only
# the current security update of each package, so an exact version would stop building at the next one.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev libkrb5-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY policies/ policies/
COPY audit/ audit/
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels . "pyspnego[kerberos]"

# --- runtime: the wheels, the Kerberos client libraries and tools, a non-root user ---
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="exaudit" \
      org.opencontainers.image.description="Prove that an integration's Exchange mailbox access is scoped exactly as intended." \
      org.opencontainers.image.source="https://github.com/exaudit/exaudit" \
      org.opencontainers.image.licenses="MIT"
# libkrb5-3 and libgssapi-krb5-2: the GSSAPI that pyspnego uses for Kerberos/Negotiate (Exchange on-premises
# PowerShell remoting expects Kerberos); krb5-user: kinit and klist, to get a ticket from a keytab in the container.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libkrb5-3 libgssapi-krb5-2 krb5-user \
 && rm -rf /var/lib/apt/lists/*
# The wheels are bind-mounted from the build stage, not copied: they never become a layer of the image. Installed
# with --no-index from those wheels only, so the versions are the ones the build stage resolved (hence DL3013).
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    python -m pip install --no-cache-dir --no-index --find-links /tmp/wheels exaudit "pyspnego[kerberos]" \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/exaudit exaudit \
 && mkdir -p /reports /work \
 && chown exaudit:exaudit /reports /work
ENV EXAUDIT_REPORT_DIR=/reports \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /work
VOLUME ["/reports"]
ENTRYPOINT ["exaudit"]
CMD ["--help"]
