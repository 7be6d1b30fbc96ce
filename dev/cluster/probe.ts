import { request } from 'node:https';

/** PEM contents: the CA that must have signed the server's certificate, and our client credentials. */
export interface ProbeTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ProbeResult {
  status: number;
  body: string;
}

/** One HTTPS GET; any error resolves as status 0, so callers can simply poll. */
export function probe(url: string, tls: ProbeTls, timeoutMs = 2_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const failed = (err: unknown) => resolve({ status: 0, body: String(err) });
    let req;
    try {
      req = request(
        url,
        {
          method: 'GET',
          agent: false,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          timeout: timeoutMs,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (body.length < 64 * 1024) body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', failed);
        },
      );
    } catch (err) {
      // Unusable TLS material throws synchronously; to a poller that is just "not healthy".
      failed(err);
      return;
    }
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on('error', failed);
    req.end();
  });
}
