/**
 * The HTTP load generator of the proxy benchmark, run inside a pod's network
 * namespace (`ip netns exec <pod> deno run -A bench/_proxy_load.ts …`):
 * `concurrency` workers in a closed loop, each sending `GET / HTTP/1.0` on a
 * new TCP connection and reading the answer to its end (busybox httpd closes
 * every connection, so every request is a new connection and passes the
 * NAT rules once). Prints one JSON line: `{ requests, errors, seconds, p50Ms, p99Ms }`.
 *
 * `deno run -A bench/_proxy_load.ts <host> <port> <seconds> <concurrency>`
 *
 * @module
 */

const [host = "", portText = "80", secondsText = "3", concurrencyText = "8"] = Deno.args;
const port = Number(portText);
const seconds = Number(secondsText);
const concurrency = Number(concurrencyText);
if (host === "" || !(port > 0) || !(seconds > 0) || !(concurrency > 0)) {
  console.error("Usage: deno run -A bench/_proxy_load.ts <host> <port> <seconds> <concurrency>");
  Deno.exit(2);
}

const request = new TextEncoder().encode(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
const ok = new TextEncoder().encode("HTTP/1.");
let requests = 0;
let errors = 0;
const latencies: number[] = [];

/** One request on a new connection; whether a 200 came back. */
async function once(): Promise<boolean> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await conn.write(request);
    const buffer = new Uint8Array(4096);
    let first: Uint8Array | undefined;
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      first ??= buffer.slice(0, Math.min(n, 12));
    }
    return first !== undefined && ok.every((b, i) => first![i] === b) &&
      new TextDecoder().decode(first).slice(9, 12) === "200";
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the peer already.
    }
  }
}

const started = performance.now();
const deadline = started + seconds * 1000;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() < deadline) {
    const start = performance.now();
    try {
      if (await once()) {
        requests++;
        latencies.push(performance.now() - start);
      } else {
        errors++;
      }
    } catch {
      errors++;
    }
  }
}));
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
console.log(
  JSON.stringify({ requests, errors, seconds: (performance.now() - started) / 1000, p50Ms: at(0.5), p99Ms: at(0.99) }),
);
