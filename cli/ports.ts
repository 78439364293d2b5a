/**
 * Free TCP ports on 127.0.0.1, found by binding to port 0 and reading back what the kernel chose.
 * There is an unavoidable race between closing the probe socket and the real listener binding the
 * port; callers that spawn servers should retry on "address in use".
 */
import net from 'node:net';

function listenOnce(port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port, host, exclusive: true }, () => resolve(srv));
  });
}

function close(srv: net.Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** One free port on `host` (default 127.0.0.1). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port;
}

/** `n` distinct free ports; all probe sockets are held open together so the kernel hands out distinct ones. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenOnce(0, host));
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** True when nothing listens on host:port (we can bind it ourselves). */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  try {
    const srv = await listenOnce(port, host);
    await close(srv);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once host:port accepts a TCP connection, or rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 10_000,
  abort?: () => Error | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stop = abort?.();
    if (stop) throw stop;
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ port, host });
      const done = (v: boolean) => {
        sock.removeAllListeners();
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(1000, () => done(false));
      sock.once('connect', () => done(true));
      sock.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
