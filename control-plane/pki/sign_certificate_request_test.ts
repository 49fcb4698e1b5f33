import assert from "node:assert/strict";
import * as x509 from "./_x509.ts";
import { createCertificateAuthority } from "./certificate_authority.ts";
import { signCertificateRequest } from "./sign_certificate_request.ts";

const ca = await createCertificateAuthority();
const signing = { name: "ECDSA", hash: "SHA-256" };

async function request(keys: CryptoKeyPair, name = "CN=pi-3"): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: signing });
  return csr.toString("pem");
}

Deno.test("signCertificateRequest() signs the request's key with the names given, not the ones asked for", async () => {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const { certPem, notAfter } = await signCertificateRequest(ca, await request(keys, "CN=someone-else"), {
    commonName: "pi-3",
    sans: ["pi-3", "192.168.1.23"],
    usages: "server",
    days: 365,
  });
  const cert = new x509.X509Certificate(certPem);
  assert.equal(cert.subject, "CN=pi-3");
  assert.equal(cert.notAfter.getTime(), notAfter.getTime());
  assert.ok(await cert.verify({ publicKey: new x509.X509Certificate(ca.certPem).publicKey }));
  const ours = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  assert.deepEqual(new Uint8Array(cert.publicKey.rawData), ours);
  assert.deepEqual([...cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []], [
    x509.ExtendedKeyUsage.serverAuth,
  ]);
});

Deno.test("signCertificateRequest() refuses text that is no request, a forged signature and other key types", async () => {
  const options = { commonName: "pi-3", sans: ["pi-3"], usages: "server" as const, days: 30 };
  await assert.rejects(signCertificateRequest(ca, "hello", options), /expected a PEM PKCS#10 request/);
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const pem = await request(keys);
  const der = new Uint8Array(x509.PemConverter.decode(pem)[0]!);
  der[der.length - 5]! ^= 0xff;
  await assert.rejects(
    signCertificateRequest(ca, x509.PemConverter.encode(der.buffer, "CERTIFICATE REQUEST"), options),
    /Invalid certificate request: its signature/,
  );
  const p384 = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"]);
  await assert.rejects(
    signCertificateRequest(ca, await request(p384), options),
    /its key is ECDSA P-384, expected ECDSA P-256/,
  );
});
