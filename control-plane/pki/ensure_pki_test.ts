import assert from "node:assert/strict";
import { join } from "node:path";
import * as x509 from "./_x509.ts";
import { caHash } from "./ca_hash.ts";
import { ensurePki, PkiFileError } from "./ensure_pki.ts";
import { fetchTrusting, opensslVerify, serveTls } from "./_test_helpers.ts";

const DAY = 24 * 60 * 60 * 1000;

/** A temporary folder removed when the test ends. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "skiff-pki-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

async function readFiles(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of ["ca.crt", "ca.key", "server.crt", "server.key"]) {
    files[name] = await Deno.readTextFile(join(dir, name));
  }
  return files;
}

/** The DNS and IP names of a certificate, as `dns:x` / `ip:y`. */
function sansOf(certPem: string): string[] {
  const cert = new x509.X509Certificate(certPem);
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return (ext?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`);
}

Deno.test("ensurePki() on first start creates a CA and a serving certificate it signed", async () => {
  await using dir = await tempDir();
  const now = new Date("2030-01-02T03:04:05Z");
  const pki = await ensurePki(dir.path, { sans: ["skiff.lan", "10.9.8.7"], now });

  const names = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  assert.deepEqual(names, ["ca.crt", "ca.key", "server.crt", "server.key"]);
  for (
    const [name, mode] of [["ca.key", 0o600], ["server.key", 0o600], ["ca.crt", 0o644], ["server.crt", 0o644]] as const
  ) {
    assert.equal((await Deno.stat(join(dir.path, name))).mode! & 0o777, mode, name);
  }
  const files = await readFiles(dir.path);
  assert.equal(pki.caPem, files["ca.crt"]);
  assert.equal(pki.certPem, files["server.crt"]);
  assert.equal(pki.keyPem, files["server.key"]);
  assert.match(files["ca.key"]!, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(pki.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.deepEqual(pki.ca, { certPem: files["ca.crt"], keyPem: files["ca.key"] });
  assert.equal(pki.caHash, await caHash(files["ca.crt"]!));
  assert.equal(pki.changes.length, 2);

  const ca = new x509.X509Certificate(pki.caPem);
  assert.equal(ca.subject, `CN=skiff-ca@${now.getTime() / 1000}`);
  assert.equal(ca.issuer, ca.subject);
  assert.ok(await ca.isSelfSigned());
  assert.equal(ca.getExtension(x509.BasicConstraintsExtension)?.ca, true);
  assert.equal(
    ca.getExtension(x509.KeyUsagesExtension)?.usages,
    x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
  );
  assert.equal(ca.notAfter.getTime(), now.getTime() + 3650 * DAY);
  assert.equal(ca.publicKey.algorithm.name, "ECDSA");
  assert.equal((ca.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");

  const server = new x509.X509Certificate(pki.certPem);
  assert.equal(server.subject, "CN=skiff-apiserver");
  assert.ok(await server.verify({ publicKey: ca.publicKey, date: now }));
  const chain = await new x509.X509ChainBuilder({ certificates: [ca] }).build(server);
  assert.deepEqual([...chain].map((c) => c.subject), [server.subject, ca.subject]);
  assert.equal(server.notAfter.getTime(), now.getTime() + 365 * DAY);
  assert.ok(server.notBefore.getTime() <= now.getTime());
  assert.equal(server.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  assert.deepEqual([...server.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []], [
    x509.ExtendedKeyUsage.serverAuth,
  ]);

  const sans = sansOf(pki.certPem);
  for (const want of ["dns:localhost", "ip:127.0.0.1", "ip:::1", "dns:skiff.lan", "ip:10.9.8.7"]) {
    assert.ok(sans.includes(want), `${want} in ${sans}`);
  }
  assert.ok(sans.includes(`dns:${Deno.hostname().toLowerCase()}`), `hostname in ${sans}`);
  for (const iface of Deno.networkInterfaces()) {
    const linkLocal = iface.address.startsWith("169.254.") || /^fe[89ab]/i.test(iface.address);
    assert.equal(sans.includes(`ip:${iface.address}`), !linkLocal, iface.address);
  }

  const verified = await opensslVerify(pki.caPem, pki.certPem, { purpose: "sslserver", at: now });
  assert.ok(verified.ok, verified.output);
});

Deno.test("ensurePki() serving certificate passes a real TLS handshake by name and by address", async () => {
  await using dir = await tempDir();
  const pki = await ensurePki(dir.path);
  await using server = serveTls({ cert: pki.certPem, key: pki.keyPem });
  for (const host of ["localhost", "127.0.0.1"]) {
    assert.equal(await fetchTrusting(`https://${host}:${server.port}/`, pki.caPem), "ok", host);
  }
  await using v6 = serveTls({ cert: pki.certPem, key: pki.keyPem, hostname: "::1" });
  assert.equal(await fetchTrusting(`https://[::1]:${v6.port}/`, pki.caPem), "ok");
});

Deno.test("ensurePki() serving certificate is refused by a client that does not trust the CA", async () => {
  await using dir = await tempDir();
  await using other = await tempDir();
  const pki = await ensurePki(dir.path);
  const otherPki = await ensurePki(other.path);
  await using server = serveTls({ cert: pki.certPem, key: pki.keyPem });
  assert.equal(await fetchTrusting(`https://localhost:${server.port}/`, undefined), "refused");
  assert.equal(await fetchTrusting(`https://localhost:${server.port}/`, otherPki.caPem), "refused");
});

Deno.test("ensurePki() on a later start reuses every file unchanged", async () => {
  await using dir = await tempDir();
  const first = await ensurePki(dir.path, { sans: ["skiff.lan"] });
  const before = await readFiles(dir.path);
  const again = await ensurePki(dir.path, { sans: ["SKIFF.lan."], now: new Date(Date.now() + 300 * DAY) });
  assert.deepEqual(await readFiles(dir.path), before);
  assert.deepEqual(again.changes, []);
  assert.equal(again.caHash, first.caHash);
  assert.equal(again.certPem, first.certPem);
});

Deno.test("ensurePki() reissues the serving certificate, never the CA, when a required name is missing", async () => {
  await using dir = await tempDir();
  await ensurePki(dir.path, { sans: ["skiff.lan"] });
  const before = await readFiles(dir.path);

  const pki = await ensurePki(dir.path, { sans: ["skiff.lan", "pi.lan", "fd00:0::10"] });
  const after = await readFiles(dir.path);
  assert.equal(after["ca.crt"], before["ca.crt"]);
  assert.equal(after["ca.key"], before["ca.key"]);
  assert.notEqual(after["server.crt"], before["server.crt"]);
  assert.notEqual(after["server.key"], before["server.key"]);
  assert.equal(pki.changes.length, 1);
  assert.match(pki.changes[0]!, /Issued a new serving certificate .* because the old one lacks "pi\.lan", "fd00::10"/);
  const sans = sansOf(pki.certPem);
  assert.ok(sans.includes("dns:pi.lan") && sans.includes("dns:skiff.lan"), `${sans}`);

  await using server = serveTls({ cert: pki.certPem, key: pki.keyPem });
  assert.equal(await fetchTrusting(`https://localhost:${server.port}/`, pki.caPem), "ok");
  assert.deepEqual((await ensurePki(dir.path, { sans: ["pi.lan", "FD00::0:10", "skiff.lan"] })).changes, []);
});

Deno.test("ensurePki() reissues a serving certificate that expires within 30 days", async () => {
  await using dir = await tempDir();
  const start = new Date("2030-01-01T00:00:00Z");
  const first = await ensurePki(dir.path, { now: start });
  assert.deepEqual((await ensurePki(dir.path, { now: new Date(start.getTime() + 334 * DAY) })).changes, []);

  const later = new Date(start.getTime() + 336 * DAY);
  const renewed = await ensurePki(dir.path, { now: later });
  assert.equal(renewed.caPem, first.caPem);
  assert.match(renewed.changes[0]!, /because the old one expires on 2031-01-01T00:00:00.000Z/);
  const cert = new x509.X509Certificate(renewed.certPem);
  assert.equal(cert.notAfter.getTime(), later.getTime() + 365 * DAY);
});

Deno.test("ensurePki() reissues a serving certificate from another CA or whose key does not match", async () => {
  await using dir = await tempDir();
  await using other = await tempDir();
  const pki = await ensurePki(dir.path);
  const foreign = await ensurePki(other.path);

  await Deno.copyFile(join(other.path, "server.crt"), join(dir.path, "server.crt"));
  await Deno.copyFile(join(other.path, "server.key"), join(dir.path, "server.key"));
  const fromOther = await ensurePki(dir.path);
  assert.equal(fromOther.caPem, pki.caPem);
  assert.notEqual(fromOther.certPem, foreign.certPem);
  assert.match(fromOther.changes[0]!, /because the old one was not signed by the current CA/);

  await Deno.copyFile(join(dir.path, "ca.key"), join(dir.path, "server.key"));
  const mismatched = await ensurePki(dir.path);
  assert.match(mismatched.changes[0]!, /because the old one does not match its key/);
  await using server = serveTls({ cert: mismatched.certPem, key: mismatched.keyPem });
  assert.equal(await fetchTrusting(`https://127.0.0.1:${server.port}/`, pki.caPem), "ok");
});

Deno.test("ensurePki() issues a new serving certificate when its files were deleted", async () => {
  await using dir = await tempDir();
  const pki = await ensurePki(dir.path);
  await Deno.remove(join(dir.path, "server.key"));
  const again = await ensurePki(dir.path);
  assert.equal(again.caPem, pki.caPem);
  assert.match(again.changes[0]!, /because there was none/);
  assert.ok(
    await new x509.X509Certificate(again.certPem).verify({
      publicKey: new x509.X509Certificate(pki.caPem).publicKey,
    }),
  );
});

Deno.test("ensurePki() with a corrupt or unreadable file names it and says what to do", async () => {
  const cases: {
    name: string;
    file: string;
    damage: (dir: string) => Promise<void>;
    message: RegExp;
  }[] = [
    {
      name: "corrupt server.crt",
      file: "server.crt",
      damage: (dir) => Deno.writeTextFile(join(dir, "server.crt"), "garbage"),
      message: /The serving certificate ".*server\.crt" is corrupt .*: delete ".*server\.crt" and ".*server\.key"/,
    },
    {
      name: "corrupt server.key",
      file: "server.key",
      damage: (dir) =>
        Deno.writeTextFile(join(dir, "server.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
      message: /The serving key ".*server\.key" is corrupt .*Skiff issues a new serving certificate/,
    },
    {
      name: "unreadable server.crt",
      file: "server.crt",
      damage: async (dir) => {
        await Deno.remove(join(dir, "server.crt"));
        await Deno.mkdir(join(dir, "server.crt"));
      },
      message: /Cannot read the serving certificate ".*server\.crt": .*: delete/,
    },
    {
      name: "corrupt ca.crt",
      file: "ca.crt",
      damage: (dir) =>
        Deno.writeTextFile(join(dir, "ca.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
      message: /The CA certificate ".*ca\.crt" is corrupt .*the CA cannot be regenerated without every node re-joining/,
    },
    {
      name: "corrupt ca.key",
      file: "ca.key",
      damage: (dir) => Deno.writeTextFile(join(dir, "ca.key"), "not a key"),
      message: /The CA key ".*ca\.key" is corrupt .*restore it from a backup/,
    },
    {
      name: "ca.key of another CA",
      file: "ca.key",
      damage: (dir) => Deno.copyFile(join(dir, "server.key"), join(dir, "ca.key")),
      message: /The CA key ".*ca\.key" does not belong to the CA certificate/,
    },
    {
      name: "ca.crt that is no CA",
      file: "ca.crt",
      damage: (dir) => Deno.copyFile(join(dir, "server.crt"), join(dir, "ca.crt")),
      message: /".*ca\.crt" is not a CA certificate/,
    },
    {
      name: "missing ca.crt",
      file: "ca.crt",
      damage: (dir) => Deno.remove(join(dir, "ca.crt")),
      message: /The CA is incomplete: ".*ca\.key" exists but ".*ca\.crt" is missing/,
    },
  ];
  for (const { name, file, damage, message } of cases) {
    await using dir = await tempDir();
    await ensurePki(dir.path);
    await damage(dir.path);
    const before = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
    await assert.rejects(ensurePki(dir.path), (error: unknown) => {
      assert.ok(error instanceof PkiFileError, `${name}: ${error}`);
      assert.equal(error.path, join(dir.path, file), name);
      assert.match(error.message, message, name);
      return true;
    });
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), before, `${name} left files alone`);
  }
});

Deno.test("ensurePki() refuses an extra name that is neither a DNS name nor an address", async () => {
  await using dir = await tempDir();
  await assert.rejects(ensurePki(dir.path, { sans: ["skiff.lan", "not a host"] }), {
    name: "TypeError",
    message: 'Invalid subject alternative name "not a host": not an IP address or a DNS name',
  });
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});
