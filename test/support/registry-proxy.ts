// The Schema Registry behind https and basic auth, for the secured integration test: a small
// TLS-terminating proxy (node:https) in front of the stack's Apicurio, which it reaches over plain
// http on loopback. Apicurio's own authentication would not do here: its basic auth
// (apicurio.authn.basic-client-credentials.enabled) is OAuth client credentials exchanged at an
// OpenID Connect token endpoint (Keycloak or the like), which cannot run in this environment, and
// the shared stack's registry must not be restarted with other settings while other tests use it.
//
// The proxy checks what a real secured registry would: the TLS client certificate (when
// `clientCa` is given, a certificate signed by it is required) and the Authorization header
// (401 with a WWW-Authenticate challenge otherwise); it counts what it refused.
import { createServer, type Server } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';

export interface RegistryProxy {
  /** https://127.0.0.1:<port> + the upstream URL's path (e.g. /apis/ccompat/v7). */
  url: string;
  port: number;
  stats: { forwarded: number; unauthorized: number };
  close(): Promise<void>;
}

export async function startRegistryProxy(options: {
  upstream: string;
  certFile: string;
  keyFile: string;
  /** Require a client certificate signed by this CA. */
  clientCaFile?: string;
  username: string;
  password: string;
}): Promise<RegistryProxy> {
  const upstream = new URL(options.upstream);
  const expected = Buffer.from(`Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`);
  const stats = { forwarded: 0, unauthorized: 0 };
  const server: Server = createServer(
    {
      cert: readFileSync(options.certFile),
      key: readFileSync(options.keyFile),
      ...(options.clientCaFile ? { ca: readFileSync(options.clientCaFile), requestCert: true, rejectUnauthorized: true } : {}),
    },
    (req, res) => {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        stats.unauthorized++;
        req.resume();
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'content-type': 'application/json' }).end('{"error_code":401,"message":"Unauthorized"}');
        return;
      }
      stats.forwarded++;
      const headers = { ...req.headers, host: upstream.host };
      delete headers.authorization;
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', (error) => res.writeHead(502).end(error.message));
      req.pipe(forward);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}${upstream.pathname.replace(/\/+$/, '')}`,
    port,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
