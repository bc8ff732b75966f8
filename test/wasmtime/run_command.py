#!/usr/bin/env python3
"""Runs a WASI 0.2 command component under wasmtime 49 (test-only).

    run_command.py run [-S inherit-network=y] [-S tcp=y] FILE.wasm [ARGS...]

takes the arguments of the wasmtime CLI (`wasmtime run ...`, as the README
shows it) and does what that command does, through wasmtime's official
Python embedding (wasmtime-py 49.0.0): wasmtime's own engine and WASI 0.2
implementation, the component's `wasi:cli/run` called once, stdout and
stderr inherited, exit status 0 when `run` returns ok, 1 when it returns
err. Only the two `-S` options above are known; anything else is refused.

Why the ctypes below: wasmtime denies TCP unless the embedder allows it,
and the 49 C API (so wasmtime-py) can inherit the network but has no
"allow TCP" call. The `wasi_config_t` it wraps keeps its socket
permissions as adjacent bools: `allow_ip_name_lookup`, UDP's, then TCP's
(the order found on 49.0.0 by trying each). `enable_tcp` finds the first
by flipping it through its real setter and diffing the struct's bytes,
then sets the TCP flag two bytes after it. It checks every assumption and
stops with exit status 3 if one fails, and again if the guest still
reports TCP as denied (EACCES), so a wasmtime-py upgrade that moves the
flags fails loudly instead of passing for the wrong reason.
"""
import ctypes
import os
import sys
from importlib.metadata import version

import wasmtime
from wasmtime import _bindings as ffi
from wasmtime.component import Component, Linker

PINNED = "49.0.0"
# Bytes of wasi_config_t searched for the flags (the struct is smaller;
# the flags sat at offset 264 in 49.0.0).
SCAN = 512
EACCES_MESSAGE = b"EACCES"


def die(message):
    sys.stderr.write(f"run_command.py: {message}\n")
    sys.stderr.flush()
    os._exit(3)


def enable_tcp(cfg):
    base = ctypes.cast(cfg.ptr(), ctypes.c_void_p).value

    def snapshot():
        return ctypes.string_at(base, SCAN)

    before = snapshot()
    ffi.wasi_config_allow_ip_name_lookup(cfg.ptr(), True)
    after = snapshot()
    changed = [i for i in range(SCAN) if before[i] != after[i]]
    if len(changed) != 1:
        die(f"TCP trick: allow_ip_name_lookup changed {len(changed)} bytes of wasi_config_t, expected 1")
    flag = changed[0]
    if (before[flag], after[flag]) != (0, 1):
        die(f"TCP trick: the flag at {flag} went {before[flag]} -> {after[flag]}, expected 0 -> 1")
    if after[flag + 1] != 0 or after[flag + 2] != 0:
        die(f"TCP trick: the TCP/UDP flags after offset {flag} are not both false")
    # The CLI's `-S inherit-network=y -S tcp=y` does not allow name lookup.
    ffi.wasi_config_allow_ip_name_lookup(cfg.ptr(), False)
    if snapshot() != before:
        die("TCP trick: clearing allow_ip_name_lookup did not restore wasi_config_t")
    ctypes.c_uint8.from_address(base + flag + 2).value = 1


def parse(argv):
    """(options, file, args) from `run [-S name=value]... FILE [ARGS...]`."""
    if len(argv) < 3 or argv[1] != "run":
        die("usage: run_command.py run [-S inherit-network=y] [-S tcp=y] FILE.wasm [ARGS...]")
    options, i = set(), 2
    while i < len(argv) and argv[i] == "-S":
        if i + 1 >= len(argv) or argv[i + 1] not in ("inherit-network=y", "tcp=y"):
            die(f"unsupported option: -S {argv[i + 1] if i + 1 < len(argv) else ''}")
        options.add(argv[i + 1])
        i += 2
    if i >= len(argv):
        die("no component file given")
    return options, argv[i], argv[i + 1:]


def main(argv):
    options, path, args = parse(argv)
    if version("wasmtime") != PINNED:
        die(f"wasmtime-py {version('wasmtime')} found, the TCP trick is checked for {PINNED} only")
    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.add_wasip2()
    component = Component.from_file(engine, path)

    cfg = wasmtime.WasiConfig()
    cfg.argv = [path, *args]
    cfg.inherit_stdout()
    denied = []

    def stderr(data):
        if EACCES_MESSAGE in data:
            denied.append(data)
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()

    cfg.stderr_custom = stderr
    if "inherit-network=y" in options:
        ffi.wasi_config_inherit_network(cfg.ptr())
    if "tcp=y" in options:
        enable_tcp(cfg)
    store = wasmtime.Store(engine)
    store.set_wasi(cfg)

    instance = linker.instantiate(store, component)
    iface = next((instance.get_export_index(store, name) for name in ("wasi:cli/run@0.2.12", "wasi:cli/run@0.2.0")
                  if instance.get_export_index(store, name) is not None), None)
    if iface is None:
        die(f"{path} exports no wasi:cli/run")
    run = instance.get_func(store, instance.get_export_index(store, "run", iface))
    result = run(store)
    if denied and {"inherit-network=y", "tcp=y"} <= options:
        die("the guest was denied TCP: the wasi_config_t flag trick did not take")
    # `result` (no payloads) comes back as Variant("ok" | "err", None).
    return 0 if getattr(result, "tag", "ok") == "ok" else 1


if __name__ == "__main__":
    status = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: it unloads libwasmtime under the feet of
    # the WASI runtime's worker threads, which then abort noisily.
    os._exit(status)
