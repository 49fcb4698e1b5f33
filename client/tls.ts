/**
 * A `fetch` that trusts exactly one CA (the cluster's), or skips
 * verification, as a kubeconfig's `certificate-authority` and
 * `insecure-skip-tls-verify` mean.
 *
 * `Deno.createHttpClient({ caCerts })` cannot do either: it adds the CA to
 * Deno's default roots (and `DENO_CERT`), and has no per-client switch to
 * skip verification. undici, which has both, leaves a pending body read
 * hanging forever under Deno when its request is aborted, which would
 * wedge every cancelled watch. So requests go through `node:https`, whose
 * `ca` replaces the default roots and whose `rejectUnauthorized: false`
 * skips verification, and come back as standard `Response`s.
 *
 * @module
 */

import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { IncomingMessage } from "node:http";
import https from "node:https";
import { pipeline, Readable } from "node:stream";

/** Options of {@linkcode createTlsFetch}. */
export interface TlsFetchOptions {
  /**
   * The only CA to trust, PEM. Without it (and without `insecure`) the
   * default public roots are trusted.
   */
  caPem?: string;
  /**
   * Skip verifying the server's certificate and name. Only for fetching a
   * CA whose hash is checked afterwards, or for a server the user chose not
   * to verify. Cannot be combined with `caPem`.
   */
  insecure?: boolean;
}

/** A `fetch`-shaped function bound to one TLS configuration. */
export interface TlsFetch {
  /**
   * Sends a request as the global `fetch` does, with these differences:
   * only `https:` URLs, redirects are returned rather than followed, and
   * bodies are not decompressed.
   */
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /**
   * Closes every connection, which ends requests and response bodies still
   * in flight (watches included) with an error. Later calls fail.
   */
  close(): void;
  /** Same as {@linkcode TlsFetch.close}, for `using`. */
  [Symbol.dispose](): void;
}

/** Statuses whose responses have no body, per the Fetch standard. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Creates a `fetch` that trusts exactly `caPem`, or skips verification when
 * `insecure` is set. Connections are kept alive and reused; call `close()`
 * to release them.
 *
 * Network failures reject with a `TypeError` naming the URL, an aborted
 * signal with the signal's reason, as the global `fetch` does.
 *
 * @throws {TypeError} when both `caPem` and `insecure` are given, or `caPem`
 * holds no PEM certificate
 *
 * @example
 * ```ts
 * using tlsFetch = createTlsFetch({ caPem: await Deno.readTextFile("ca.crt") });
 * const res = await tlsFetch("https://skiff.lan:6443/version");
 * console.log(await res.json());
 * ```
 */
export function createTlsFetch(options: TlsFetchOptions = {}): TlsFetch {
  const { caPem, insecure = false } = options;
  if (insecure && caPem !== undefined) {
    throw new TypeError(
      "Invalid TLS options: a CA certificate and insecure (skip verification) cannot both be given",
    );
  }
  if (caPem !== undefined && !caPem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TypeError(
      "Invalid TLS options: caPem holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    );
  }
  const agent = new https.Agent({
    keepAlive: true,
    ...(insecure ? { rejectUnauthorized: false } : {}),
    ...(caPem !== undefined ? { ca: caPem } : {}),
  });
  let closed = false;

  const tlsFetch = async (
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> => {
    const request = new Request(input, init);
    if (closed) {
      throw new TypeError(`Cannot fetch "${request.url}": this client is closed`);
    }
    const url = new URL(request.url);
    if (url.protocol !== "https:") {
      throw new TypeError(`Cannot fetch "${request.url}": only https URLs are supported`);
    }
    request.signal.throwIfAborted();
    // A body given as a stream is streamed; any other is sent whole, with a
    // Content-Length, as the global fetch does.
    const streaming = init?.body instanceof ReadableStream;
    const body = request.body === null ? null : streaming ? request.body : new Uint8Array(await request.arrayBuffer());
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    if (body instanceof Uint8Array) headers["content-length"] = String(body.byteLength);

    return await new Promise<Response>((resolve, reject) => {
      const req = https.request(url, {
        method: request.method,
        headers,
        agent,
        signal: request.signal,
      }, (res) => resolve(toResponse(res, request)));
      req.on("error", (error) => {
        reject(
          request.signal.aborted
            ? request.signal.reason
            : new TypeError(`Cannot fetch "${request.url}": ${error.message}`, { cause: error }),
        );
      });
      if (body === null) req.end();
      else if (body instanceof Uint8Array) req.end(body);
      else {
        pipeline(Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>), req, (error) => {
          if (error) req.destroy(error);
        });
      }
    });
  };

  const close = () => {
    closed = true;
    agent.destroy();
  };
  return Object.assign(tlsFetch, { close, [Symbol.dispose]: close });
}

/** Turns a node response into a standard `Response` that streams its body. */
function toResponse(res: IncomingMessage, request: Request): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const item of Array.isArray(value) ? value : [value ?? ""]) {
      headers.append(name, item);
    }
  }
  const status = res.statusCode ?? 0;
  const hasBody = !NULL_BODY_STATUSES.has(status) && request.method !== "HEAD";
  if (!hasBody) res.resume();
  const response = new Response(
    hasBody ? Readable.toWeb(res) as ReadableStream<Uint8Array> : null,
    { status, statusText: res.statusMessage ?? "", headers },
  );
  // A constructed Response has an empty `url`; keep the one fetched, which
  // callers quote in error messages.
  Object.defineProperty(response, "url", { value: request.url });
  return response;
}
