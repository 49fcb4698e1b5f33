import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { KubeconfigError, loadKubeconfig, renderKubeconfig, writeKubeconfig } from "./kubeconfig.ts";
import { createTlsFetch } from "./tls.ts";

/** Runs a command in `cwd` and returns its stdout; fails with its stderr. */
async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, env: { HOME: cwd } }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** A CA and a serving certificate for localhost and 127.0.0.1, made by openssl. */
async function makePki(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const dir = await Deno.makeTempDir({ prefix: "skiff-kubeconfig-pki-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
    await run("openssl", [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      "/CN=kubeconfig-test-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
    await run("openssl", [
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
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ], dir);
    return {
      caPem: await Deno.readTextFile(join(dir, "ca.crt")),
      certPem: await Deno.readTextFile(join(dir, "server.crt")),
      keyPem: await Deno.readTextFile(join(dir, "server.key")),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const pki = await makePki();
const otherCaPem = (await makePki()).caPem;
const b64 = (text: string) => btoa(text);

/** A temporary folder removed when the test ends. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "skiff-kubeconfig-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** A kubeconfig document with one cluster, user and context per name given. */
function config(
  options: { current?: string; clusters?: string[]; contexts?: [string, string, string?][]; users?: string[] },
) {
  return {
    apiVersion: "v1",
    kind: "Config",
    ...(options.current ? { "current-context": options.current } : {}),
    clusters: (options.clusters ?? []).map((name) => ({
      name,
      cluster: { server: `https://${name}.lan:6443`, "certificate-authority-data": b64(pki.caPem) },
    })),
    users: (options.users ?? []).map((name) => ({ name, user: { token: `token-of-${name}` } })),
    contexts: (options.contexts ?? []).map(([name, cluster, user]) => ({
      name,
      context: { cluster, user, ...(name.endsWith("-ns") ? { namespace: "team" } : {}) },
    })),
  };
}

async function writeYaml(path: string, doc: unknown): Promise<string> {
  await Deno.writeTextFile(path, typeof doc === "string" ? doc : JSON.stringify(doc));
  return path;
}

Deno.test("writeKubeconfig() writes mode 0600 and loadKubeconfig() reads back what renderKubeconfig() put in", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "new", "admin.kubeconfig");
  await writeKubeconfig(path, {
    server: "https://192.168.1.10:6443",
    caPem: pki.caPem,
    token: "abc.def",
    clusterName: "skiff",
    userName: "admin",
    contextName: "skiff-admin",
    namespace: "apps",
  });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.deepEqual([...Deno.readDirSync(join(dir.path, "new"))].map((e) => e.name), ["admin.kubeconfig"]);

  const doc = parse(await Deno.readTextFile(path));
  assert.equal(doc.kind, "Config");
  assert.equal(doc["current-context"], "skiff-admin");
  assert.equal(atob(doc.clusters[0].cluster["certificate-authority-data"]), pki.caPem);

  assert.deepEqual(await loadKubeconfig({ kubeconfig: path, env: {} }), {
    files: [path],
    contextName: "skiff-admin",
    clusterName: "skiff",
    userName: "admin",
    server: "https://192.168.1.10:6443",
    caPem: pki.caPem,
    insecureSkipTlsVerify: false,
    token: "abc.def",
    namespace: "apps",
  });
});

Deno.test("writeKubeconfig() replaces an existing file and tightens its mode to 0600", async () => {
  await using dir = await tempDir();
  const path = await writeYaml(join(dir.path, "config"), "old: file\n");
  await Deno.chmod(path, 0o644);
  await writeKubeconfig(path, {
    server: "https://skiff.lan:6443",
    caPem: pki.caPem,
    token: "t",
    clusterName: "c",
    userName: "u",
    contextName: "x",
  });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.equal((await loadKubeconfig({ kubeconfig: path })).namespace, "default");
});

Deno.test("renderKubeconfig() refuses a missing name, a non-https server, a bad CA or a bad token", () => {
  const good = {
    server: "https://skiff.lan:6443",
    caPem: pki.caPem,
    token: "t",
    clusterName: "c",
    userName: "u",
    contextName: "x",
  };
  assert.throws(() => renderKubeconfig({ ...good, userName: " " }), { name: "TypeError", message: /userName/ });
  assert.throws(() => renderKubeconfig({ ...good, server: "skiff.lan:6443" }), /server must be an https:\/\/ URL/);
  assert.throws(() => renderKubeconfig({ ...good, server: "http://skiff.lan" }), /server must be an https:\/\/ URL/);
  assert.throws(() => renderKubeconfig({ ...good, caPem: "nope" }), /caPem holds no PEM certificate/);
  assert.throws(() => renderKubeconfig({ ...good, token: "a b" }), /token must be non-empty/);
});

Deno.test("renderKubeconfig() output works with kubectl against a TLS server that checks the bearer token", async () => {
  await using dir = await tempDir();
  let seenAuth = "";
  const server = Deno.serve(
    { cert: pki.certPem, key: pki.keyPem, port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => {
      seenAuth = req.headers.get("authorization") ?? "";
      if (seenAuth !== "Bearer s3cret") return new Response("Unauthorized", { status: 401 });
      return Response.json({ major: "1", minor: "32", gitVersion: "v1.32.0-skiff" });
    },
  );
  try {
    const path = join(dir.path, "admin.kubeconfig");
    for (const host of ["localhost", "127.0.0.1"]) {
      await writeKubeconfig(path, {
        server: `https://${host}:${server.addr.port}`,
        caPem: pki.caPem,
        token: "s3cret",
        clusterName: "skiff",
        userName: "admin",
        contextName: "skiff",
        namespace: "apps",
      });
      const view = JSON.parse(
        await run("kubectl", ["config", "view", "--kubeconfig", path, "--raw", "-o", "json"], dir.path),
      );
      assert.equal(view["current-context"], "skiff");
      assert.equal(view.contexts[0].context.namespace, "apps");
      const version = JSON.parse(await run("kubectl", ["--kubeconfig", path, "get", "--raw", "/version"], dir.path));
      assert.equal(version.gitVersion, "v1.32.0-skiff");
      assert.equal(seenAuth, "Bearer s3cret");
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("loadKubeconfig() gives what createTlsFetch() needs to call the server with the token", async () => {
  await using dir = await tempDir();
  const server = Deno.serve(
    { cert: pki.certPem, key: pki.keyPem, port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) =>
      req.headers.get("authorization") === "Bearer s3cret"
        ? Response.json({ path: new URL(req.url).pathname })
        : new Response("Unauthorized", { status: 401 }),
  );
  try {
    const path = join(dir.path, "admin.kubeconfig");
    await writeKubeconfig(path, {
      server: `https://localhost:${server.addr.port}`,
      caPem: pki.caPem,
      token: "s3cret",
      clusterName: "skiff",
      userName: "admin",
      contextName: "skiff",
    });
    const config = await loadKubeconfig({ env: { KUBECONFIG: path } });
    using tlsFetch = createTlsFetch({ caPem: config.caPem });
    const res = await tlsFetch(`${config.server}/api/v1/namespaces/${config.namespace}/pods`, {
      headers: { authorization: `Bearer ${config.token}` },
    });
    assert.deepEqual(await res.json(), { path: "/api/v1/namespaces/default/pods" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("loadKubeconfig() prefers --kubeconfig, then KUBECONFIG, then ~/.kube/config", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, ".kube"));
  const home = await writeYaml(
    join(dir.path, ".kube", "config"),
    config({ current: "home", clusters: ["home"], contexts: [["home", "home", "u"]], users: ["u"] }),
  );
  const env = await writeYaml(
    join(dir.path, "env.yaml"),
    config({ current: "env", clusters: ["env"], contexts: [["env", "env", "u"]], users: ["u"] }),
  );
  const flag = await writeYaml(
    join(dir.path, "flag.yaml"),
    config({ current: "flag", clusters: ["flag"], contexts: [["flag", "flag", "u"]], users: ["u"] }),
  );
  const load = (options: Parameters<typeof loadKubeconfig>[0]) => loadKubeconfig({ home: dir.path, ...options });
  assert.equal((await load({ kubeconfig: flag, env: { KUBECONFIG: env } })).server, "https://flag.lan:6443");
  assert.equal((await load({ env: { KUBECONFIG: env } })).server, "https://env.lan:6443");
  assert.equal((await load({ env: { KUBECONFIG: "" } })).server, "https://home.lan:6443");
  assert.deepEqual((await loadKubeconfig({ env: { HOME: dir.path } })).files, [home]);
});

Deno.test("loadKubeconfig() merges KUBECONFIG files: the first to name an entry wins, and the first current-context", async () => {
  await using dir = await tempDir();
  const first = await writeYaml(
    join(dir.path, "first.yaml"),
    config({ clusters: ["shared"], contexts: [["a", "shared", "alice"]], users: ["alice"] }),
  );
  const second = await writeYaml(join(dir.path, "second.yaml"), {
    ...config({
      current: "b-ns",
      clusters: ["shared", "own"],
      contexts: [["a", "own", "bob"], ["b-ns", "shared", "bob"]],
      users: ["alice", "bob"],
    }),
  });
  const third = await writeYaml(join(dir.path, "third.yaml"), config({ current: "a" }));
  await Deno.writeTextFile(
    second,
    (await Deno.readTextFile(second)).replace("https://shared.lan:6443", "https://ignored.lan:6443"),
  );
  const missing = join(dir.path, "missing.yaml");
  const KUBECONFIG = [first, missing, "", second, third].join(":");

  const b = await loadKubeconfig({ env: { KUBECONFIG } });
  assert.deepEqual(b.files, [first, second, third]);
  assert.equal(b.contextName, "b-ns");
  assert.equal(b.server, "https://shared.lan:6443");
  assert.equal(b.token, "token-of-bob");
  assert.equal(b.namespace, "team");

  const a = await loadKubeconfig({ env: { KUBECONFIG }, context: "a", namespace: "mine" });
  assert.equal(a.clusterName, "shared");
  assert.equal(a.token, "token-of-alice");
  assert.equal(a.namespace, "mine");
});

Deno.test("loadKubeconfig() reads the CA and tokenFile from paths relative to the kubeconfig's folder", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "conf", "pki"), { recursive: true });
  await Deno.writeTextFile(join(dir.path, "conf", "pki", "ca.crt"), pki.caPem);
  await Deno.writeTextFile(join(dir.path, "conf", "token"), "from-file\n");
  const path = await writeYaml(join(dir.path, "conf", "config"), {
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server: "https://skiff.lan:6443/", "certificate-authority": "pki/ca.crt" } }],
    users: [{ name: "u", user: { tokenFile: "token", token: "inline" } }],
    contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
  });
  const resolved = await loadKubeconfig({ env: { KUBECONFIG: path } });
  assert.equal(resolved.caPem, pki.caPem);
  assert.equal(resolved.token, "from-file");
  assert.equal(resolved.server, "https://skiff.lan:6443");
});

Deno.test("loadKubeconfig() prefers certificate-authority-data to certificate-authority", async () => {
  await using dir = await tempDir();
  const path = await writeYaml(join(dir.path, "config"), {
    "current-context": "c",
    clusters: [{
      name: "c",
      cluster: {
        server: "https://skiff.lan:6443",
        "certificate-authority-data": b64(otherCaPem),
        "certificate-authority": "/nonexistent/ca.crt",
      },
    }],
    contexts: [{ name: "c", context: { cluster: "c" } }],
  });
  const resolved = await loadKubeconfig({ kubeconfig: path });
  assert.equal(resolved.caPem, otherCaPem);
  assert.equal(resolved.userName, "");
  assert.equal(resolved.token, undefined);
});

Deno.test("loadKubeconfig() reads insecure-skip-tls-verify and refuses it together with a CA", async () => {
  await using dir = await tempDir();
  const doc = (ca: boolean) => ({
    "current-context": "c",
    clusters: [{
      name: "c",
      cluster: {
        server: "https://skiff.lan:6443",
        "insecure-skip-tls-verify": true,
        ...(ca ? { "certificate-authority-data": b64(pki.caPem) } : {}),
      },
    }],
    contexts: [{ name: "c", context: { cluster: "c" } }],
  });
  const plain = await writeYaml(join(dir.path, "plain"), doc(false));
  const resolved = await loadKubeconfig({ kubeconfig: plain });
  assert.equal(resolved.insecureSkipTlsVerify, true);
  assert.equal(resolved.caPem, undefined);
  const both = await writeYaml(join(dir.path, "both"), doc(true));
  await assert.rejects(loadKubeconfig({ kubeconfig: both }), {
    name: "KubeconfigError",
    message: /Cluster "c" in ".*both" sets both insecure-skip-tls-verify and a certificate authority/,
  });
});

Deno.test("loadKubeconfig() reads client certificates but explains that Skiff needs a bearer token", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "client.key"), pki.keyPem);
  const user = (extra: Record<string, unknown>) => ({
    "current-context": "c",
    clusters: [{ name: "c", cluster: { server: "https://skiff.lan:6443" } }],
    users: [{
      name: "kubeadm-admin",
      user: { "client-certificate-data": b64(pki.certPem), "client-key": "client.key", ...extra },
    }],
    contexts: [{ name: "c", context: { cluster: "c", user: "kubeadm-admin" } }],
  });
  const certOnly = await writeYaml(join(dir.path, "cert-only"), user({}));
  await assert.rejects(loadKubeconfig({ kubeconfig: certOnly }), (error: unknown) => {
    assert.ok(error instanceof KubeconfigError);
    assert.equal(error.path, certOnly);
    assert.match(error.message, /User "kubeadm-admin" in ".*cert-only" has only a client certificate/);
    assert.match(error.message, /Skiff's API server authenticates with bearer tokens/);
    return true;
  });
  const withToken = await writeYaml(join(dir.path, "with-token"), user({ token: "t" }));
  const resolved = await loadKubeconfig({ kubeconfig: withToken });
  assert.equal(resolved.token, "t");
  assert.equal(resolved.clientCertificatePem, pki.certPem);
  assert.equal(resolved.clientKeyPem, pki.keyPem);
});

Deno.test("loadKubeconfig() without any kubeconfig suggests skiff up or --kubeconfig", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "nope.yaml");
  await assert.rejects(loadKubeconfig({ kubeconfig: missing }), {
    name: "KubeconfigError",
    message: new RegExp(
      `Kubeconfig ".*nope.yaml" \\(from --kubeconfig\\) does not exist: run \`skiff up\`.*--kubeconfig`,
    ),
  });
  await assert.rejects(loadKubeconfig({ env: { KUBECONFIG: `${missing}:${missing}2` } }), {
    message: /None of the kubeconfig files in KUBECONFIG exist .*skiff up/,
  });
  await assert.rejects(loadKubeconfig({ env: {}, home: dir.path }), {
    message: /No kubeconfig found: ".*\.kube\/config" does not exist and KUBECONFIG is not set: run `skiff up`/,
  });
});

Deno.test("loadKubeconfig() with an unknown or unset context lists the available ones", async () => {
  await using dir = await tempDir();
  const path = await writeYaml(
    join(dir.path, "config"),
    config({ clusters: ["c"], contexts: [["dev", "c", "u"], ["prod", "c", "u"]], users: ["u"] }),
  );
  await assert.rejects(loadKubeconfig({ kubeconfig: path, context: "staging" }), {
    message: /Context "staging" is not defined in ".*config": available contexts: "dev", "prod"/,
  });
  await assert.rejects(loadKubeconfig({ kubeconfig: path }), {
    message: /sets no current-context: pass --context \(available contexts: "dev", "prod"\)/,
  });
});

Deno.test("loadKubeconfig() names the file and the missing piece of a broken kubeconfig", async () => {
  await using dir = await tempDir();
  const cases: [unknown, RegExp][] = [
    ["clusters: [unclosed\n", /Kubeconfig ".*case0" is not valid YAML/],
    ["- a\n- b\n", /Kubeconfig ".*case1" is not a kubeconfig: its top level is not a mapping/],
    [{ clusters: { c: {} } }, /Kubeconfig ".*case2": clusters must be a list/],
    [{ clusters: [{ cluster: {} }] }, /Kubeconfig ".*case3": clusters\[0\] has no name/],
    [
      { "current-context": "x", contexts: [{ name: "x", context: { cluster: "gone" } }] },
      /Context "x" in ".*case4" uses cluster "gone", which ".*case4" does not define/,
    ],
    [
      { "current-context": "x", contexts: [{ name: "x", context: {} }] },
      /Context "x" in ".*case5" names no cluster/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: {} }],
        contexts: [{ name: "x", context: { cluster: "c" } }],
      },
      /Cluster "c" in ".*case6" has no server URL: add cluster.server/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: "https://s", "certificate-authority": "missing-ca.crt" } }],
        contexts: [{ name: "x", context: { cluster: "c" } }],
      },
      /Cluster "c" in ".*case7": certificate-authority ".*missing-ca.crt" cannot be read: no such file/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: "https://s", "certificate-authority-data": "!!!" } }],
        contexts: [{ name: "x", context: { cluster: "c" } }],
      },
      /Cluster "c" in ".*case8": certificate-authority-data is not valid base64/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: "https://s", "certificate-authority-data": b64("hello") } }],
        contexts: [{ name: "x", context: { cluster: "c" } }],
      },
      /Cluster "c" in ".*case9": certificate-authority-data holds no PEM certificate/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: "https://s" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "who" } }],
      },
      /Context "x" in ".*case10" uses user "who", which ".*case10" does not define/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: "https://s" } }],
        users: [{ name: "u", user: { exec: { command: "aws" } } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      },
      /User "u" in ".*case11" gets its credentials from an exec plugin, which Skiff does not run/,
    ],
    [
      {
        "current-context": "x",
        clusters: [{ name: "c", cluster: { server: 6443 } }],
        contexts: [{ name: "x", context: { cluster: "c" } }],
      },
      /Kubeconfig ".*case12": "c": server must be a string/,
    ],
  ];
  for (const [index, [doc, message]] of cases.entries()) {
    const path = await writeYaml(join(dir.path, `case${index}`), doc);
    await assert.rejects(loadKubeconfig({ kubeconfig: path }), (error: unknown) => {
      assert.ok(error instanceof KubeconfigError, `case${index}: ${error}`);
      assert.match(error.message, message, `case${index}`);
      assert.equal(error.path, path, `case${index}`);
      return true;
    });
  }
});
