# The native Linux shim (plain Node-API; one C file per concern, shim.h is
# what they share: keep package.json "files" in step). `npm install` runs
# node-gyp-build here (package.json "install"): it loads the prebuilt addon
# shipped in the package (prebuilds/, made by build/prebuild.mjs) or, when
# there is none for this platform, builds these files with node-gyp into
# build/Release/nbio_shim.node. Offline builds need Node's headers: the
# repository's .npmrc sets nodedir=/usr.
{
  "targets": [
    {
      "target_name": "nbio_shim",
      "sources": [
        "epoll.c",
        "socket_io.c",
        "memory.c",
        "listen_connect.c",
        "watchers.c",
        "module.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      # node's common.gypi asks for -O3; this shim is built with -O2.
      "cflags!": ["-O3"],
      # Unused parameters are inherent to the fixed Node-API/libuv callback
      # signatures; every other warning stays on.
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
