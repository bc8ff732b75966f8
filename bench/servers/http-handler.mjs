// The request handler both HTTP benchmark servers run: a fixed small
// answer, as a "hello world" HTTP/1.1 server gives (keep-alive is Node's
// default).
const BODY = Buffer.from('hello world\n');

/** Answers every request with 200 and BODY, once its body (if any) was read. */
export function respond(req, res) {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
}
