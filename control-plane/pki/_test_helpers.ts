/**
 * Helpers shared by this folder's tests: a real TLS round trip on loopback,
 * and openssl as an independent verifier.
 *
 * @module
 */

/** A TLS server on `hostname` serving with `cert`/`key`, answering "ok". */
export function serveTls(
  options: { cert: string; key: string; hostname?: string },
): { port: number } & AsyncDisposable {
  const server = Deno.serve({
    cert: options.cert,
    key: options.key,
    port: 0,
    hostname: options.hostname ?? "127.0.0.1",
    onListen() {},
  }, () => new Response("ok"));
  return {
    port: server.addr.port,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/**
 * GETs `url` with a client that trusts `caPem` (or only Deno's default
 * roots when undefined): the body on success, "refused" when TLS fails.
 */
export async function fetchTrusting(
  url: string,
  caPem: string | undefined,
): Promise<string> {
  using client = Deno.createHttpClient({
    caCerts: caPem === undefined ? [] : [caPem],
  });
  try {
    const res = await fetch(url, { client });
    return await res.text();
  } catch (error) {
    if (error instanceof TypeError) return "refused";
    throw error;
  }
}

/**
 * Runs `openssl verify` of `certPem` against `caPem` for `purpose`
 * (`sslserver`, `sslclient`), at time `at` (default now): whether it
 * verifies, and openssl's words.
 */
export async function opensslVerify(
  caPem: string,
  certPem: string,
  options: { purpose: "sslserver" | "sslclient"; at?: Date },
): Promise<{ ok: boolean; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-pki-openssl-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, caPem);
    await Deno.writeTextFile(`${dir}/cert.crt`, certPem);
    const out = await new Deno.Command("openssl", {
      args: [
        "verify",
        "-CAfile",
        `${dir}/ca.crt`,
        "-purpose",
        options.purpose,
        ...(options.at ? ["-attime", String(Math.floor(options.at.getTime() / 1000))] : []),
        `${dir}/cert.crt`,
      ],
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { ok: out.success, output: decode(out.stdout) + decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
