// http.Server on nbio-wasm connections: each connection the engine accepts
// is turned into a stream (conn.toStream()) and fed to the server with
// 'connection'; the server itself never listens.
//   node bench/servers/http-nbio.mjs [port=0] [host=127.0.0.1]
// Needs `npm run build`; serves as engine-server.mjs says.
import http from 'node:http';
import { loadEngine, serve } from './engine-server.mjs';
import { respond } from './http-handler.mjs';

const port = Number(process.argv[2] ?? 0);
const host = process.argv[3] ?? '127.0.0.1';

const Engine = await loadEngine('http-nbio');

const server = http.createServer(respond);
const engine = new Engine({ addrs: [`${host}:${port}`] });
engine.onOpen((conn) => server.emit('connection', conn.toStream()));
await serve(engine);
