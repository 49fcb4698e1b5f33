/**
 * A tiny OCI distribution registry for tests: serves the images of an OCI
 * image tarball (as `deno task fixtures` builds) over plain HTTP on
 * loopback, slowly enough that `ctr images pull` shows progress.
 *
 * @module
 */

import { join } from "node:path";

/** A running test registry. */
export interface TestRegistry extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  /** Blob and manifest requests served, as `METHOD path`. */
  readonly requests: string[];
  /** Stops serving and removes its files. */
  close(): Promise<void>;
}

/**
 * Serves the OCI image tarball `tarPath` as repository `repository` (tag
 * `latest`); blobs are sent in 64 KiB chunks every `chunkDelayMs`.
 */
export async function startTestRegistry(
  tarPath: string,
  options: { repository?: string; chunkDelayMs?: number } = {},
): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-registry-" });
  const untar = await new Deno.Command("tar", { args: ["-xf", tarPath, "-C", dir], stderr: "piped" }).output();
  if (!untar.success) throw new Error(`Cannot unpack "${tarPath}": ${new TextDecoder().decode(untar.stderr)}`);
  const index = JSON.parse(await Deno.readTextFile(join(dir, "index.json"))) as {
    manifests: { mediaType: string; digest: string }[];
  };
  const manifest = index.manifests[0]!;
  const repository = options.repository ?? "library/busybox";
  const delay = options.chunkDelayMs ?? 20;
  const requests: string[] = [];
  const blob = (digest: string) => Deno.readFile(join(dir, "blobs", "sha256", digest.replace(/^sha256:/, "")));
  const notFound = (code: string) =>
    Response.json({ errors: [{ code, message: code.toLowerCase().replace("_", " ") }] }, { status: 404 });

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/v2/") return Response.json({});
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (!m || m[1] !== repository) return notFound("NAME_UNKNOWN");
    requests.push(`${request.method} ${path}`);
    const head = request.method === "HEAD";
    if (m[2] === "manifests") {
      if (m[3] !== "latest" && m[3] !== manifest.digest) return notFound("MANIFEST_UNKNOWN");
      const body = await blob(manifest.digest);
      return new Response(head ? null : body, {
        headers: {
          "content-type": manifest.mediaType,
          "docker-content-digest": manifest.digest,
          "content-length": String(body.length),
        },
      });
    }
    let body: Uint8Array;
    try {
      body = await blob(m[3]!);
    } catch {
      return notFound("BLOB_UNKNOWN");
    }
    const headers = {
      "content-type": "application/octet-stream",
      "docker-content-digest": m[3]!,
      "content-length": String(body.length),
    };
    if (head) return new Response(null, { headers });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (offset >= body.length) return controller.close();
        if (offset > 0) await new Promise((r) => timer = setTimeout(r, delay));
        controller.enqueue(body.subarray(offset, offset + 64 * 1024));
        offset += 64 * 1024;
      },
      cancel() {
        clearTimeout(timer);
      },
    });
    return new Response(stream, { headers });
  });
  const host = `127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    })();
  return { host, requests, close, [Symbol.asyncDispose]: close };
}
