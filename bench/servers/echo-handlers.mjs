// The echo handler as a handlers module, for the nbio-wasm server with
// several pollers (each poller loads it in its own thread).
export function onData(c, data) {
  c.write(data);
}
