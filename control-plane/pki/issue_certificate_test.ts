import assert from "node:assert/strict";
import * as x509 from "./_x509.ts";
import { createCertificateAuthority } from "./certificate_authority.ts";
import { issueCertificate } from "./issue_certificate.ts";
import { fetchTrusting, opensslVerify, serveTls } from "./_test_helpers.ts";

const DAY = 24 * 60 * 60 * 1000;
const ca = await createCertificateAuthority();

Deno.test("issueCertificate() for a server serves TLS under each of its names, typed by parsing", async () => {
  const issued = await issueCertificate(ca, {
    commonName: "pi-3",
    sans: ["localhost", "127.0.0.1", "pi-3.lan", "192.168.1.23", "fd00::23"],
    usages: "server",
    days: 365,
  });
  const cert = new x509.X509Certificate(issued.certPem);
  assert.equal(cert.subject, "CN=pi-3");
  assert.equal(cert.issuer, new x509.X509Certificate(ca.certPem).subject);
  assert.ok(await cert.verify({ publicKey: new x509.X509Certificate(ca.certPem).publicKey }));
  assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "dns", value: "pi-3.lan" },
    { type: "ip", value: "192.168.1.23" },
    { type: "ip", value: "fd00::23" },
  ]);
  const server = await opensslVerify(ca.certPem, issued.certPem, { purpose: "sslserver" });
  assert.ok(server.ok, server.output);
  assert.equal((await opensslVerify(ca.certPem, issued.certPem, { purpose: "sslclient" })).ok, false);

  await using tls = serveTls({ cert: issued.certPem, key: issued.keyPem });
  assert.equal(await fetchTrusting(`https://localhost:${tls.port}/`, ca.certPem), "ok");
  assert.equal(await fetchTrusting(`https://127.0.0.1:${tls.port}/`, ca.certPem), "ok");
});

Deno.test("issueCertificate() for a client marks it clientAuth and needs no names", async () => {
  const issued = await issueCertificate(ca, { commonName: "system:node:pi-3", usages: "client", days: 30 });
  const cert = new x509.X509Certificate(issued.certPem);
  assert.deepEqual([...cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []], [
    x509.ExtendedKeyUsage.clientAuth,
  ]);
  assert.equal(cert.getExtension(x509.SubjectAlternativeNameExtension), null);
  const client = await opensslVerify(ca.certPem, issued.certPem, { purpose: "sslclient" });
  assert.ok(client.ok, client.output);
  assert.equal((await opensslVerify(ca.certPem, issued.certPem, { purpose: "sslserver" })).ok, false);
});

Deno.test("issueCertificate() never outlives its CA", async () => {
  const now = new Date("2031-06-01T00:00:00Z");
  const shortCa = await createCertificateAuthority({ now, days: 30 });
  const issued = await issueCertificate(shortCa, {
    commonName: "pi-1",
    sans: ["pi-1"],
    usages: "server",
    days: 365,
    now: new Date(now.getTime() + DAY),
  });
  const cert = new x509.X509Certificate(issued.certPem);
  assert.equal(cert.notAfter.getTime(), new x509.X509Certificate(shortCa.certPem).notAfter.getTime());
  await assert.rejects(
    issueCertificate(shortCa, {
      commonName: "late",
      sans: ["late"],
      usages: "server",
      days: 1,
      now: new Date(now.getTime() + 31 * DAY),
    }),
    { name: "RangeError", message: /Cannot issue "late": the CA expired on 2031-07-01/ },
  );
});

Deno.test("issueCertificate() names the option at fault", async () => {
  const base = { commonName: "n", sans: ["n.lan"], usages: "server" as const, days: 1 };
  const cases: [Parameters<typeof issueCertificate>[1], string, RegExp][] = [
    [{ ...base, commonName: "" }, "TypeError", /commonName must not be empty/],
    [{ ...base, usages: "peer" as "server" }, "TypeError", /Invalid certificate usages "peer"/],
    [{ ...base, days: 0 }, "RangeError", /days must be a positive integer, got 0/],
    [{ ...base, days: 1.5 }, "RangeError", /days must be a positive integer, got 1.5/],
    [{ ...base, sans: [] }, "TypeError", /a server certificate needs at least one subject alternative name/],
    [{ ...base, sans: ["bad_name"] }, "TypeError", /Invalid subject alternative name "bad_name"/],
  ];
  for (const [options, name, message] of cases) {
    await assert.rejects(issueCertificate(ca, options), { name, message });
  }
  await assert.rejects(issueCertificate({ certPem: "x", keyPem: ca.keyPem }, base), {
    name: "TypeError",
    message: /Invalid CA: certPem is not a PEM certificate/,
  });
  await assert.rejects(issueCertificate({ certPem: ca.certPem, keyPem: ca.certPem }, base), {
    name: "TypeError",
    message: /Invalid CA: keyPem: Not a PKCS#8 private key: the PEM block is "CERTIFICATE"/,
  });
});
