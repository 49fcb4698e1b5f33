/**
 * Signing a leaf certificate with the cluster CA, shared by
 * {@linkcode issueCertificate} (a key made here) and
 * {@linkcode signCertificateRequest} (a key that never leaves its owner).
 *
 * @module
 */

import * as x509 from "./_x509.ts";
import { type CertificateAuthority, CLOCK_SKEW_MS, DAY_MS, randomSerialNumber } from "./certificate_authority.ts";
import { importPrivateKeyPem, SIGNING_ALGORITHM } from "./_keys.ts";
import { parseSan, uniqueSans } from "./_sans.ts";
import type { IssueCertificateOptions } from "./issue_certificate.ts";

/**
 * Checks `options`, then signs a certificate for `publicKey` with `ca`:
 * basicConstraints not a CA, keyUsage digitalSignature, the extended key
 * usage of `options.usages`, key identifiers and the subject alternative
 * names; valid from an hour before now for `options.days`, never past the CA.
 *
 * @throws {TypeError} when an option or the CA is malformed, naming it
 * @throws {RangeError} when `days` is not a positive integer, or the CA has expired
 */
export async function signLeaf(
  ca: CertificateAuthority,
  publicKey: CryptoKey | x509.PublicKey,
  options: IssueCertificateOptions,
): Promise<x509.X509Certificate> {
  const { commonName, usages, days } = options;
  if (typeof commonName !== "string" || commonName.trim() === "") {
    throw new TypeError("Invalid certificate: commonName must not be empty");
  }
  if (usages !== "server" && usages !== "client") {
    throw new TypeError(
      `Invalid certificate usages "${usages}": expected "server" or "client"`,
    );
  }
  if (!Number.isInteger(days) || days < 1) {
    throw new RangeError(
      `Invalid certificate lifetime: days must be a positive integer, got ${days}`,
    );
  }
  const sans = uniqueSans((options.sans ?? []).map(parseSan));
  if (usages === "server" && sans.length === 0) {
    throw new TypeError(
      `Invalid certificate "${commonName}": a server certificate needs at least one subject alternative name`,
    );
  }

  let caCert: x509.X509Certificate;
  try {
    caCert = new x509.X509Certificate(ca.certPem);
  } catch (cause) {
    throw new TypeError("Invalid CA: certPem is not a PEM certificate", {
      cause,
    });
  }
  const caKey = await importPrivateKeyPem(ca.keyPem).catch((cause) => {
    throw new TypeError(`Invalid CA: keyPem: ${cause.message}`, { cause });
  });

  const now = options.now ?? new Date();
  if (caCert.notAfter.getTime() <= now.getTime()) {
    throw new RangeError(
      `Cannot issue "${commonName}": the CA expired on ${caCert.notAfter.toISOString()}`,
    );
  }
  const notAfter = new Date(
    Math.min(now.getTime() + days * DAY_MS, caCert.notAfter.getTime()),
  );
  const notBefore = new Date(
    Math.max(now.getTime() - CLOCK_SKEW_MS, caCert.notBefore.getTime()),
  );

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      usages === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (caKeyId !== null) {
    extensions.push(new x509.AuthorityKeyIdentifierExtension(caKeyId.keyId));
  }
  if (sans.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  }

  return await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [commonName] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey,
    signingKey: caKey,
    extensions,
  });
}
