# HyperSDK's images, one per binary that runs in a cluster: a static Go
# binary (CGO_ENABLED=0) on distroless's static base, as the nonroot user
# (65532), the binary at /<name> and its entrypoint. Build them with
# `make images` (docker build --target <name>); artifacts/deploy names them
# ghcr.io/hypersdk/<name> and sets their tag through kustomize's images:.
# The sandbox runs the same binaries as these images would (see
# pkg/sandbox/deploy.go), and test/manifests checks the two agree.
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags=-s -o /out/ \
    ./cmd/hypersdk-apiserver ./cmd/hypersdk-controller ./cmd/hypersdk-scheduler-extender ./cmd/hypersdk-dashboard ./cmd/hypersdk-usb-agent \
    ./cmd/hypersdk-scheduler

FROM gcr.io/distroless/static-debian12:nonroot AS hypersdk-apiserver
COPY --from=build /out/hypersdk-apiserver /hypersdk-apiserver
USER 65532:65532
ENTRYPOINT ["/hypersdk-apiserver"]

FROM gcr.io/distroless/static-debian12:nonroot AS hypersdk-controller
COPY --from=build /out/hypersdk-controller /hypersdk-controller
USER 65532:65532
ENTRYPOINT ["/hypersdk-controller"]

FROM gcr.io/distroless/static-debian12:nonroot AS hypersdk-scheduler-extender
COPY --from=build /out/hypersdk-scheduler-extender /hypersdk-scheduler-extender
USER 65532:65532
ENTRYPOINT ["/hypersdk-scheduler-extender"]

FROM gcr.io/distroless/static-debian12:nonroot AS hypersdk-dashboard
COPY --from=build /out/hypersdk-dashboard /hypersdk-dashboard
USER 65532:65532
ENTRYPOINT ["/hypersdk-dashboard"]

FROM gcr.io/distroless/static-debian12:nonroot AS hypersdk-scheduler
COPY --from=build /out/hypersdk-scheduler /hypersdk-scheduler
USER 65532:65532
ENTRYPOINT ["/hypersdk-scheduler"]

# The USB agent is the exception: it runs usbredir's usbredirect, a C
# program, as root in a privileged pod (artifacts/deploy/components/
# usb-hotplug), so it needs Debian's package rather than a static base.
FROM debian:bookworm-slim AS hypersdk-usb-agent
RUN apt-get update && apt-get install -y --no-install-recommends usbredirect && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/hypersdk-usb-agent /hypersdk-usb-agent
ENTRYPOINT ["/hypersdk-usb-agent"]
