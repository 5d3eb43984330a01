# The image holds only the static agenda binary: no registry can be reached
# here, so there is no builder image to pull. Build it with
#   ./task image
# (that is: ./task build, mkdir -p bin/image/data, docker build).
FROM scratch
COPY bin/agenda /agenda
# A scratch image has no useradd: run as a numeric user, and give it /data.
# A named volume mounted there starts as a copy of this directory, owner
# included, so the node can write its data without root.
COPY --chown=10001:10001 bin/image/data /data
USER 10001:10001
# Raft listens on every interface and advertises the container's own address
# (or RAFT_ADVERTISE_ADDR); see deploy/ for compose and Swarm. SQLite and Go
# put temporary files in TMPDIR: scratch has no /tmp.
ENV DATA_DIR=/data HTTP_ADDR=:8080 RAFT_ADDR=:7000 TMPDIR=/data
VOLUME /data
EXPOSE 8080 7000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["/agenda", "healthcheck", "-path", "/healthz"]
ENTRYPOINT ["/agenda"]
CMD ["serve"]
