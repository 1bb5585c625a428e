# The Asterisk rootfs's cache key, read by build-asterisk-rootfs.sh and the PBX tests: bump the
# suffix whenever the recipe changes, and every machine rebuilds it on the next run.
ASTERISK_ROOTFS=/var/cache/tm3/asterisk/sid-v1
