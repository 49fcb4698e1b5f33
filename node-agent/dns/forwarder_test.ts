import assert from "node:assert/strict";
import { join } from "node:path";
import type { Buffer } from "node:buffer";
import { dnsPacket, type Question } from "./_packet.ts";
import { Forwarder, type ForwarderOptions } from "./forwarder.ts";
import { ResponseCache } from "./response_cache.ts";
import { startUpstream, type TestUpstream } from "./_test_support.ts";

/** A raw query for `name`, with `id`. */
function rawQuery(name: string, type: Question["type"] = "A", id = 4242): Buffer {
  return dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
  });
}

async function ask(forwarder: Forwarder, name: string, options: { udpLimit?: number; id?: number } = {}) {
  const raw = rawQuery(name, "A", options.id);
  const response = await forwarder.forward(raw, {
    cacheKey: ResponseCache.keyOf(raw),
    ...(options.udpLimit ? { udpLimit: options.udpLimit } : {}),
  });
  const decoded = dnsPacket.decode(response);
  return { ...decoded, rcode: (decoded as unknown as { rcode: string }).rcode, bytes: response.length };
}

async function withForwarder(
  upstream: TestUpstream,
  options: ForwarderOptions,
  fn: (forwarder: Forwarder, resolvConf: string, logs: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-dns-" });
  const resolvConf = join(dir, "resolv.conf");
  await Deno.writeTextFile(resolvConf, `search lan\nnameserver ${upstream.address}\n`);
  const logs: string[] = [];
  const forwarder = new Forwarder({
    resolvConfPath: resolvConf,
    upstreamPort: upstream.port,
    timeoutMs: 300,
    log: (line) => logs.push(line),
    ...options,
  });
  try {
    await fn(forwarder, resolvConf, logs);
  } finally {
    forwarder.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Forwarder sends names to the resolv.conf upstream and serves repeats from its cache", async () => {
  await using upstream = await startUpstream();
  await withForwarder(upstream, {}, async (forwarder) => {
    const first = await ask(forwarder, "www.example.test", { id: 7 });
    assert.equal(first.id, 7);
    assert.equal(first.rcode, "NOERROR");
    assert.deepEqual(first.answers?.map((a) => "data" in a && a.data), ["192.0.2.10"]);
    const again = await ask(forwarder, "WWW.Example.Test", { id: 8 });
    assert.equal(again.id, 8);
    assert.equal(again.questions?.[0]?.name, "WWW.Example.Test", "the client's spelling is kept");
    assert.deepEqual(again.answers?.map((a) => "data" in a && a.data), ["192.0.2.10"]);
    assert.equal(await upstream.count("www.example.test"), 1);
    const missing = await ask(forwarder, "missing.example.test");
    assert.equal(missing.rcode, "NXDOMAIN");
    assert.equal(missing.authorities?.[0]?.type, "SOA");
    await ask(forwarder, "missing.example.test");
    assert.equal(await upstream.count("missing.example.test"), 1, "negative answers are cached too");
  });
});

Deno.test("Forwarder retries once after a timeout", async () => {
  await using upstream = await startUpstream();
  await withForwarder(upstream, {}, async (forwarder) => {
    const answer = await ask(forwarder, "flaky.example.test");
    assert.equal(answer.rcode, "NOERROR");
    assert.equal(await upstream.count("flaky.example.test"), 2);
  });
});

Deno.test("Forwarder answers SERVFAIL when the upstream never answers, after one retry", async () => {
  await using upstream = await startUpstream();
  await withForwarder(upstream, {}, async (forwarder, _, logs) => {
    const started = Date.now();
    const answer = await ask(forwarder, "dead.example.test", { id: 99 });
    assert.equal(answer.id, 99);
    assert.equal(answer.rcode, "SERVFAIL");
    assert.ok(Date.now() - started >= 600, "two attempts of 300 ms");
    assert.equal(await upstream.count("dead.example.test"), 2);
    assert.match(logs[0] ?? "", /Upstream name server 127\.0\.0\.1:\d+ did not answer: no UDP answer in 300 ms/);
    assert.equal((await ask(forwarder, "broken.example.test")).rcode, "SERVFAIL");
  });
});

Deno.test("Forwarder falls back to TCP on a truncated answer and truncates what a UDP client cannot take", async () => {
  await using upstream = await startUpstream();
  await withForwarder(upstream, {}, async (forwarder) => {
    const full = await ask(forwarder, "big.example.test");
    assert.equal(full.answers?.length, 60, "a TCP client gets every record");
    const small = await ask(forwarder, "big.example.test", { udpLimit: 512 });
    assert.equal(small.flag_tc, true);
    assert.equal(small.answers?.length, 0);
    assert.equal(small.questions?.[0]?.name, "big.example.test");
    assert.equal(await upstream.count("big.example.test"), 2, "one UDP try, then TCP; the repeat came from the cache");
  });
});

Deno.test("Forwarder shares one upstream exchange between identical queries in flight", async () => {
  await using upstream = await startUpstream();
  await withForwarder(upstream, { cache: false }, async (forwarder) => {
    const answers = await Promise.all([1, 2, 3, 4].map((id) => ask(forwarder, "www.example.test", { id })));
    assert.deepEqual(answers.map((a) => a.id), [1, 2, 3, 4]);
    assert.equal(await upstream.count("www.example.test"), 1);
  });
});

Deno.test("Forwarder refuses queries beyond its bound on exchanges in flight", async () => {
  await using upstream = await startUpstream();
  // The dead name's exchange must still be waiting when the second query comes: a long upstream timeout.
  await withForwarder(upstream, { maxConcurrent: 1, timeoutMs: 3_000 }, async (forwarder, _, logs) => {
    const slow = ask(forwarder, "dead.example.test");
    const deadline = Date.now() + 10_000;
    while (forwarder.inFlight < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(forwarder.inFlight, 1);
    assert.equal((await ask(forwarder, "www.example.test")).rcode, "REFUSED");
    assert.equal((await slow).rcode, "SERVFAIL");
    assert.equal((await ask(forwarder, "www.example.test")).rcode, "NOERROR");
    assert.ok(logs.some((line) => line.startsWith("Refusing forwarded queries: 1 are already waiting")));
  });
});

Deno.test("Forwarder answers SERVFAIL without upstreams, and picks up a changed resolv.conf", async () => {
  await using upstream = await startUpstream();
  await withForwarder(upstream, { reloadMs: 0 }, async (forwarder, resolvConf, logs) => {
    await Deno.writeTextFile(resolvConf, "# nothing\nnameserver 127.0.0.1.5\n");
    assert.equal((await ask(forwarder, "www.example.test")).rcode, "SERVFAIL");
    assert.match(logs.join("\n"), /No usable nameserver in ".*resolv\.conf": names outside the cluster get SERVFAIL/);
    await Deno.writeTextFile(resolvConf, `nameserver ${upstream.address}\n`);
    assert.equal((await ask(forwarder, "www.example.test")).rcode, "NOERROR");
  });
});

Deno.test("Forwarder never forwards to itself", async () => {
  await using upstream = await startUpstream();
  const isSelf = (server: { address: string; port: number }) =>
    server.address === upstream.address && server.port === upstream.port;
  await withForwarder(upstream, { isSelf }, async (forwarder) => {
    assert.deepEqual(await forwarder.upstreams(), []);
    assert.equal((await ask(forwarder, "www.example.test")).rcode, "SERVFAIL");
    assert.equal(await upstream.count("www.example.test"), 0);
  });
});
