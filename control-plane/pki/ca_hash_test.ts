import assert from "node:assert/strict";
import { caHash } from "./ca_hash.ts";
import { createCertificateAuthority } from "./certificate_authority.ts";

Deno.test("caHash() is sha256 of the CA certificate's DER, as openssl computes it", async () => {
  const { certPem } = await createCertificateAuthority();
  const der = await new Deno.Command("openssl", { args: ["x509", "-outform", "DER"], stdin: "piped", stdout: "piped" })
    .spawn();
  const writer = der.stdin.getWriter();
  await writer.write(new TextEncoder().encode(certPem));
  await writer.close();
  const { stdout } = await der.output();
  const expected = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", stdout)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal(await caHash(certPem), `sha256:${expected}`);
  assert.match(await caHash(certPem), /^sha256:[0-9a-f]{64}$/);
});

Deno.test("caHash() differs between two CAs", async () => {
  const a = await createCertificateAuthority();
  const b = await createCertificateAuthority();
  assert.notEqual(await caHash(a.certPem), await caHash(b.certPem));
});

Deno.test("caHash() of something that is not a certificate fails with a TypeError", async () => {
  await assert.rejects(caHash("hello"), { name: "TypeError", message: "Cannot hash the CA: not a PEM certificate" });
});
