// A hostile proxy for the Attack: tests: answers CONNECT with 407, or closes the socket at once.
import { createServer } from 'node:http';

export async function hostileProxy(mode: '407' | 'close'): Promise<{ url: string; connects: () => number; close: () => void }> {
  let connects = 0;
  const server = createServer((req, res) => {
    connects++;
    if (mode === 'close') return void req.socket.destroy();
    res.writeHead(407, { 'proxy-authenticate': 'Basic realm="corp"' });
    res.end();
  });
  server.on('connect', (_req, socket) => {
    connects++;
    if (mode === 'close') return void socket.destroy();
    socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://alice:s3cretPW@127.0.0.1:${port}`, connects: () => connects, close: () => server.close() };
}
