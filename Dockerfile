# The image holds only the static agenda binary: no registry can be reached
# here, so there is no builder image to pull. Build the binary first:
#   go tool task build && docker build -t agenda .
FROM scratch
COPY bin/agenda /agenda
# Raft stays on loopback until the clustering work (a single node needs no peers).
ENV DATA_DIR=/data HTTP_ADDR=:8080
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/agenda"]
CMD ["serve"]
