# The guest image's cache key, read by build-rootfs.sh and guestctl.sh: bump the suffix whenever
# the image's recipe changes, and every machine rebuilds it on the next run.
IMAGE=/var/cache/tm3/guest/bookworm-v3
