import assert from "node:assert/strict";
import { join } from "node:path";
import { createTlsFetch } from "./tls.ts";

/** Runs openssl; certificates here come from a real, independent tool. */
async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

interface TestPki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A P-256 CA and a serving certificate for localhost, 127.0.0.1 and ::1. */
async function makePki(name: string): Promise<TestPki> {
  const dir = await Deno.makeTempDir({ prefix: `skiff-tls-${name}-` });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
    await openssl(dir, [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      `/CN=${name}-ca`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await openssl(dir, [
      "req",
      "-x509",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      ...ec,
      "-keyout",
      "server.key",
      "-out",
      "server.crt",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ]);
    return {
      caPem: await Deno.readTextFile(join(dir, "ca.crt")),
      certPem: await Deno.readTextFile(join(dir, "server.crt")),
      keyPem: await Deno.readTextFile(join(dir, "server.key")),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ours = await makePki("ours");
const theirs = await makePki("theirs");

/** Serves `handler` over TLS on 127.0.0.1 with `pki`'s serving certificate. */
function serve(pki: TestPki, handler: Deno.ServeHandler<Deno.NetAddr>) {
  const server = Deno.serve({
    cert: pki.certPem,
    key: pki.keyPem,
    port: 0,
    hostname: "127.0.0.1",
    onListen() {},
  }, handler);
  return {
    port: server.addr.port,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("createTlsFetch() with caPem reaches a server of that CA by name and by address", async () => {
  await using server = serve(
    ours,
    (req) => Response.json({ method: req.method, auth: req.headers.get("authorization") }),
  );
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  for (const host of ["localhost", "127.0.0.1"]) {
    const url = `https://${host}:${server.port}/version`;
    const res = await tlsFetch(url, { headers: { authorization: "Bearer t0ken" } });
    assert.ok(res instanceof Response);
    assert.equal(res.status, 200);
    assert.equal(res.url, url);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await res.json(), { method: "GET", auth: "Bearer t0ken" });
  }
});

Deno.test("createTlsFetch() with caPem rejects a server whose certificate another CA signed", async () => {
  await using server = serve(theirs, () => new Response("secret"));
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  await assert.rejects(tlsFetch(`https://127.0.0.1:${server.port}/`), TypeError);
});

Deno.test("createTlsFetch() with caPem trusts only that CA, not Deno's other roots", async () => {
  // DENO_CERT adds "theirs" to Deno's own root store: Deno.createHttpClient
  // then trusts it whatever caCerts says, createTlsFetch must not.
  await using server = serve(theirs, () => new Response("secret"));
  const caFile = await Deno.makeTempFile({ suffix: ".crt" });
  try {
    await Deno.writeTextFile(caFile, theirs.caPem);
    const url = `https://127.0.0.1:${server.port}/`;
    const probe = `
      import { createTlsFetch } from ${JSON.stringify(import.meta.resolve("./tls.ts"))};
      const caPem = ${JSON.stringify(ours.caPem)};
      const client = Deno.createHttpClient({ caCerts: [caPem] });
      const deno = await fetch(${JSON.stringify(url)}, { client }).then((r) => r.text(), () => "refused");
      client.close();
      const tlsFetch = createTlsFetch({ caPem });
      const skiff = await tlsFetch(${JSON.stringify(url)}).then((r) => r.text(), () => "refused");
      tlsFetch.close();
      console.log(JSON.stringify({ deno, skiff }));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", probe],
      cwd: import.meta.dirname,
      env: { DENO_CERT: caFile },
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), { deno: "secret", skiff: "refused" });
  } finally {
    await Deno.remove(caFile);
  }
});

Deno.test("createTlsFetch() with insecure accepts a certificate no trusted CA signed", async () => {
  await using server = serve(theirs, () => new Response("cacerts"));
  using tlsFetch = createTlsFetch({ insecure: true });
  const res = await tlsFetch(`https://localhost:${server.port}/cacerts`);
  assert.equal(await res.text(), "cacerts");
});

Deno.test("createTlsFetch() without options rejects a self-signed cluster CA", async () => {
  await using server = serve(ours, () => new Response("ok"));
  using tlsFetch = createTlsFetch();
  await assert.rejects(tlsFetch(`https://127.0.0.1:${server.port}/`), TypeError);
});

Deno.test("createTlsFetch() sends request bodies whole or streamed", async () => {
  await using server = serve(ours, async (req) =>
    Response.json({
      length: req.headers.get("content-length"),
      type: req.headers.get("content-type"),
      body: await req.text(),
    }));
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  const url = `https://localhost:${server.port}/api/v1/namespaces/default/pods`;
  const whole = await tlsFetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"kind":"Pod"}',
  });
  assert.deepEqual(await whole.json(), { length: "14", type: "application/json", body: '{"kind":"Pod"}' });

  const fromRequest = await tlsFetch(new Request(url, { method: "PUT", body: "abc" }));
  assert.deepEqual(await fromRequest.json(), { length: "3", type: "text/plain;charset=UTF-8", body: "abc" });

  const streamed = await tlsFetch(url, {
    method: "POST",
    body: ReadableStream.from(["a", "b", "c"]).pipeThrough(new TextEncoderStream()),
  });
  assert.deepEqual(await streamed.json(), { length: null, type: null, body: "abc" });
});

Deno.test("createTlsFetch() hands over a streamed response chunk by chunk", async () => {
  const { promise: firstSeen, resolve: sawFirst } = Promise.withResolvers<void>();
  await using server = serve(ours, () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode('{"type":"ADDED"}\n'));
          await firstSeen;
          controller.enqueue(new TextEncoder().encode('{"type":"DELETED"}\n'));
          controller.close();
        },
      }),
    ));
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  const res = await tlsFetch(`https://localhost:${server.port}/api/v1/pods?watch=true`);
  assert.ok(res.body);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  assert.deepEqual(await reader.read(), { value: '{"type":"ADDED"}\n', done: false });
  sawFirst();
  assert.deepEqual(await reader.read(), { value: '{"type":"DELETED"}\n', done: false });
  assert.equal((await reader.read()).done, true);
});

Deno.test("createTlsFetch() aborts a request, and a watch being read, when its signal fires", async () => {
  const { promise: received, resolve: receive } = Promise.withResolvers<string>();
  const { promise: stop, resolve: stopServer } = Promise.withResolvers<void>();
  await using server = serve(ours, async (req) => {
    const path = new URL(req.url).pathname;
    receive(path);
    if (path === "/slow") {
      await stop;
      return new Response("late");
    }
    return new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("event\n"));
          await stop;
          controller.close();
        },
      }),
    );
  });
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  try {
    const early = new AbortController();
    const pending = tlsFetch(`https://localhost:${server.port}/slow`, { signal: early.signal });
    assert.equal(await received, "/slow");
    early.abort();
    await assert.rejects(pending, { name: "AbortError" });

    const watch = new AbortController();
    const res = await tlsFetch(`https://localhost:${server.port}/watch`, { signal: watch.signal });
    assert.ok(res.body);
    const reader = res.body.getReader();
    await reader.read();
    const next = reader.read();
    watch.abort();
    await assert.rejects(next);
  } finally {
    stopServer();
  }
});

Deno.test("createTlsFetch() close() ends an open watch and refuses later requests", async () => {
  const { promise: stop, resolve: stopServer } = Promise.withResolvers<void>();
  await using server = serve(ours, () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("event\n"));
          await stop;
          controller.close();
        },
      }),
    ));
  const tlsFetch = createTlsFetch({ caPem: ours.caPem });
  try {
    const res = await tlsFetch(`https://localhost:${server.port}/watch`);
    assert.ok(res.body);
    const reader = res.body.getReader();
    await reader.read();
    const next = reader.read();
    tlsFetch.close();
    await assert.rejects(next);
    await assert.rejects(tlsFetch(`https://localhost:${server.port}/`), {
      name: "TypeError",
      message: /this client is closed/,
    });
  } finally {
    stopServer();
  }
});

Deno.test("createTlsFetch() reaches a server on ::1 through its IPv6 address", async () => {
  const server = Deno.serve(
    { cert: ours.certPem, key: ours.keyPem, port: 0, hostname: "::1", onListen() {} },
    () => new Response("v6"),
  );
  try {
    using tlsFetch = createTlsFetch({ caPem: ours.caPem });
    const res = await tlsFetch(`https://[::1]:${server.addr.port}/`);
    assert.equal(await res.text(), "v6");
  } finally {
    await server.shutdown();
  }
});

Deno.test("createTlsFetch() returns redirects, bodiless statuses and HEAD answers as they are", async () => {
  await using server = serve(ours, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/moved") return new Response(null, { status: 301, headers: { location: "/version" } });
    if (path === "/empty") return new Response(null, { status: 204 });
    return new Response("body", { headers: { "x-skiff": "1" } });
  });
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  const base = `https://localhost:${server.port}`;
  const moved = await tlsFetch(`${base}/moved`);
  assert.equal(moved.status, 301);
  assert.equal(moved.headers.get("location"), "/version");
  await moved.body?.cancel();
  const empty = await tlsFetch(`${base}/empty`);
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
  const head = await tlsFetch(`${base}/version`, { method: "HEAD" });
  assert.equal(head.headers.get("x-skiff"), "1");
  assert.equal(head.body, null);
});

Deno.test("createTlsFetch() rejects a plain http URL and an unreachable server with a TypeError naming the URL", async () => {
  using tlsFetch = createTlsFetch({ caPem: ours.caPem });
  await assert.rejects(tlsFetch("http://127.0.0.1:1/"), { name: "TypeError", message: /only https URLs/ });
  await assert.rejects(tlsFetch("https://127.0.0.1:1/version"), {
    name: "TypeError",
    message: /Cannot fetch "https:\/\/127\.0\.0\.1:1\/version"/,
  });
});

Deno.test("createTlsFetch() refuses caPem together with insecure, and caPem without a certificate", () => {
  assert.throws(() => createTlsFetch({ caPem: ours.caPem, insecure: true }), {
    name: "TypeError",
    message: /cannot both be given/,
  });
  assert.throws(() => createTlsFetch({ caPem: "not a certificate" }), {
    name: "TypeError",
    message: /caPem holds no PEM certificate/,
  });
});
