# The image holds only the static agenda binary: no registry can be reached
# here, so there is no builder image to pull. Build the binary first:
#   ./task build && docker build -t agenda .
FROM scratch
COPY bin/agenda /agenda
# Raft listens on every interface and advertises the container's own address
# (or RAFT_ADVERTISE_ADDR); see deploy/ for a three-node stack.
ENV DATA_DIR=/data HTTP_ADDR=:8080 RAFT_ADDR=:7000
VOLUME /data
EXPOSE 8080 7000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["/agenda", "healthcheck", "-path", "/healthz"]
ENTRYPOINT ["/agenda"]
CMD ["serve"]
