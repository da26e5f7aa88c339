/**
 * TEST DOUBLE for a dataset's public host (raw.githubusercontent.com, AllenAI's S3 bucket): a local HTTP server
 * that serves files by name with byte ranges, as those hosts do, and can drop the connection midway through a
 * transfer. Used only by tests; the real download client talks to it over the wire.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ServedRequest {
  path: string;
  /** The Range header, when the client sent one. */
  range?: string;
  status: number;
  /** Body bytes written for this request. */
  bytesSent: number;
}

export interface PublicHostDouble {
  /** Base URL: a file is at `${url}/${name}`. */
  url: string;
  files: Map<string, Buffer>;
  requests: ServedRequest[];
  /** Drop the connection of the next requests after this many body bytes (one entry per request, consumed). */
  dropAfter: number[];
  close(): Promise<void>;
}

export async function startPublicHostDouble(files: Record<string, Buffer> = {}): Promise<PublicHostDouble> {
  const double: Omit<PublicHostDouble, "url" | "close"> = {
    files: new Map(Object.entries(files)),
    requests: [],
    dropAfter: [],
  };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]);
    const body = double.files.get(path.slice(1));
    const range = req.headers.range;
    const log: ServedRequest = { path, range, status: 200, bytesSent: 0 };
    double.requests.push(log);
    if (!body) {
      log.status = 404;
      res.writeHead(404).end("NoSuchKey");
      return;
    }
    let start = 0;
    const match = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (match) {
      start = Number(match[1]);
      if (start >= body.length) {
        log.status = 416;
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      log.status = 206;
      res.writeHead(206, {
        "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
        "content-length": body.length - start,
        "accept-ranges": "bytes",
      });
    } else {
      res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
    }
    const rest = body.subarray(start);
    const drop = double.dropAfter.shift();
    if (drop !== undefined && drop < rest.length) {
      res.write(rest.subarray(0, drop), () => {
        log.bytesSent = drop;
        // Mid-body: the connection ends (a FIN, so every byte written arrives) before content-length bytes came.
        res.socket?.end();
      });
      return;
    }
    log.bytesSent = rest.length;
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(double, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
