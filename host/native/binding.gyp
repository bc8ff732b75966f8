# The native Linux shim (one C file, plain Node-API). Built by `npm install`
# (package.json "install": node-gyp rebuild --directory=host/native) into
# build/Release/nbio_shim.node. Offline builds need nodedir=/usr (.npmrc).
{
  "targets": [
    {
      "target_name": "nbio_shim",
      "sources": ["nbio_shim.c"],
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
