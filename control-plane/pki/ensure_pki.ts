/**
 * The API server's certificates on disk: created on first start, reused on
 * later starts, the serving certificate reissued when it lacks a name the
 * server is reached by or is about to expire.
 *
 * @module
 */

import { join } from "node:path";
import * as x509 from "./_x509.ts";
import { atomicWriteFile } from "./_atomic_write.ts";
import { importPrivateKeyPem, keyMatchesCertificate } from "./_keys.ts";
import { certificateSans, machineSans, parseSan, type San, sanKey, uniqueSans } from "./_sans.ts";
import { caHash } from "./ca_hash.ts";
import { type CertificateAuthority, createCertificateAuthority, DAY_MS } from "./certificate_authority.ts";
import { issueCertificate, type IssuedCertificate } from "./issue_certificate.ts";

/** The files {@linkcode ensurePki} keeps under its folder. */
export const PKI_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  serverCert: "server.crt",
  serverKey: "server.key",
} as const;

/** The serving certificate's common name. */
export const SERVING_COMMON_NAME = "skiff-apiserver";

/** How long a serving certificate is issued for, in days. */
export const SERVING_CERT_DAYS = 365;

/** A serving certificate expiring within this many days is reissued. */
export const SERVING_RENEW_DAYS = 30;

/**
 * A PKI file that exists but cannot be read or used. The message names the
 * file and says what to do about it.
 */
export class PkiFileError extends Error {
  /** The file at fault. */
  readonly path: string;

  /** Creates the error for `path`. */
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PkiFileError";
    this.path = path;
  }
}

/** Options of {@linkcode ensurePki}. */
export interface EnsurePkiOptions {
  /**
   * Extra names the API server is reached by (DNS names or IP addresses),
   * on top of localhost, 127.0.0.1, ::1, the host name and the machine's
   * addresses.
   */
  sans?: readonly string[];
  /** The current time. Default: now. */
  now?: Date;
}

/** What {@linkcode ensurePki} returns. */
export interface Pki {
  /** The CA certificate, PEM: what clients and nodes trust. */
  caPem: string;
  /** The API server's serving certificate, PEM. */
  certPem: string;
  /** The serving certificate's private key, PKCS#8 PEM. */
  keyPem: string;
  /** `sha256:<hex>` of the CA certificate, for join tokens. */
  caHash: string;
  /** The CA with its key, to issue node certificates with. */
  ca: CertificateAuthority;
  /**
   * What this call changed on disk, one sentence each, for the caller to
   * log; empty when everything was reused.
   */
  changes: string[];
}

/**
 * Makes sure `dir` holds a cluster CA and a valid serving certificate for
 * the API server, and returns them.
 *
 * On first start it creates `ca.crt`, `ca.key` (a ten-year self-signed CA)
 * and `server.crt`, `server.key` (a one-year serving certificate signed by
 * it). Later it reuses them, reissuing the serving certificate (never the
 * CA) when a required name is missing from it, it expires within 30 days,
 * it was not signed by this CA, or its key does not match. Keys are written
 * with mode 0600, every file through a temporary file and a rename.
 *
 * @throws {PkiFileError} when a file exists but is unreadable or corrupt
 * @throws {TypeError} when an entry of `sans` is not a DNS name or address
 *
 * @example
 * ```ts
 * const pki = await ensurePki("/var/lib/skiff/pki", { sans: ["skiff.lan"] });
 * Deno.serve({ cert: pki.certPem, key: pki.keyPem, port: 6443 }, handler);
 * ```
 */
export async function ensurePki(
  dir: string,
  options: EnsurePkiOptions = {},
): Promise<Pki> {
  const now = options.now ?? new Date();
  const extra = (options.sans ?? []).map(parseSan);
  const required = uniqueSans([...machineSans(), ...extra]);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const changes: string[] = [];

  let ca = await loadCa(dir);
  if (ca === undefined) {
    ca = await createCertificateAuthority({ now });
    await atomicWriteFile(join(dir, PKI_FILES.caKey), ca.keyPem, {
      mode: 0o600,
    });
    await atomicWriteFile(join(dir, PKI_FILES.caCert), ca.certPem, {
      mode: 0o644,
    });
    const name = new x509.X509Certificate(ca.certPem).subject;
    changes.push(
      `Created the cluster CA "${name}" in ${join(dir, PKI_FILES.caCert)}`,
    );
  }

  const loaded = await loadServing(dir);
  const reason = loaded === undefined ? "there was none" : await reissueReason(loaded, ca, required, now);
  let serving: IssuedCertificate | undefined = loaded;
  if (serving === undefined || reason !== undefined) {
    serving = await issueCertificate(ca, {
      commonName: SERVING_COMMON_NAME,
      sans: required.map((san) => san.value),
      usages: "server",
      days: SERVING_CERT_DAYS,
      now,
    });
    await atomicWriteFile(join(dir, PKI_FILES.serverKey), serving.keyPem, {
      mode: 0o600,
    });
    await atomicWriteFile(join(dir, PKI_FILES.serverCert), serving.certPem, {
      mode: 0o644,
    });
    changes.push(
      `Issued a new serving certificate in ${join(dir, PKI_FILES.serverCert)} because ${reason}`,
    );
  }

  return {
    caPem: ca.certPem,
    certPem: serving.certPem,
    keyPem: serving.keyPem,
    caHash: await caHash(ca.certPem),
    ca,
    changes,
  };
}

/** Reads a file, or undefined when it does not exist. */
async function readOptional(path: string, what: string, advice: string) {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new PkiFileError(
      path,
      `Cannot read ${what} "${path}": ${(error as Error).message}: ${advice}`,
      { cause: error },
    );
  }
}

const CA_ADVICE =
  "fix its permissions or restore it from a backup; the CA cannot be regenerated without every node re-joining the cluster (to start a new cluster, delete ca.crt and ca.key)";

/** Loads the CA, or undefined when neither of its files exists. */
async function loadCa(
  dir: string,
): Promise<CertificateAuthority | undefined> {
  const certPath = join(dir, PKI_FILES.caCert);
  const keyPath = join(dir, PKI_FILES.caKey);
  const certPem = await readOptional(certPath, "the CA certificate", CA_ADVICE);
  const keyPem = await readOptional(keyPath, "the CA key", CA_ADVICE);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined) {
    const [present, missing] = certPem === undefined ? [keyPath, certPath] : [certPath, keyPath];
    throw new PkiFileError(
      missing,
      `The CA is incomplete: "${present}" exists but "${missing}" is missing: ${CA_ADVICE}`,
    );
  }
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (cause) {
    throw new PkiFileError(
      certPath,
      `The CA certificate "${certPath}" is corrupt (not a PEM certificate): ${CA_ADVICE}`,
      { cause },
    );
  }
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca !== true) {
    throw new PkiFileError(
      certPath,
      `The CA certificate "${certPath}" is not a CA certificate (basicConstraints CA is not set): ${CA_ADVICE}`,
    );
  }
  let key: CryptoKey;
  try {
    key = await importPrivateKeyPem(keyPem);
  } catch (cause) {
    throw new PkiFileError(
      keyPath,
      `The CA key "${keyPath}" is corrupt (${(cause as Error).message}): ${CA_ADVICE}`,
      { cause },
    );
  }
  if (!await keyMatchesCertificate(key, cert)) {
    throw new PkiFileError(
      keyPath,
      `The CA key "${keyPath}" does not belong to the CA certificate "${certPath}": ${CA_ADVICE}`,
    );
  }
  return { certPem, keyPem };
}

/** The serving certificate as loaded: PEM texts and the parsed forms. */
interface LoadedServing {
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
}

/** Loads the serving certificate, or undefined when either file is missing. */
async function loadServing(dir: string): Promise<LoadedServing | undefined> {
  const certPath = join(dir, PKI_FILES.serverCert);
  const keyPath = join(dir, PKI_FILES.serverKey);
  const advice = `delete "${certPath}" and "${keyPath}" and Skiff issues a new serving certificate on its next start`;
  const certPem = await readOptional(
    certPath,
    "the serving certificate",
    advice,
  );
  const keyPem = await readOptional(keyPath, "the serving key", advice);
  if (certPem === undefined || keyPem === undefined) return undefined;
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (cause) {
    throw new PkiFileError(
      certPath,
      `The serving certificate "${certPath}" is corrupt (not a PEM certificate): ${advice}`,
      { cause },
    );
  }
  let key: CryptoKey;
  try {
    key = await importPrivateKeyPem(keyPem);
  } catch (cause) {
    throw new PkiFileError(
      keyPath,
      `The serving key "${keyPath}" is corrupt (${(cause as Error).message}): ${advice}`,
      { cause },
    );
  }
  return { certPem, keyPem, cert, key };
}

/** Why the serving certificate must be reissued, or undefined if it is fine. */
async function reissueReason(
  serving: LoadedServing,
  ca: CertificateAuthority,
  required: readonly San[],
  now: Date,
): Promise<string | undefined> {
  const { cert } = serving;
  const caCert = new x509.X509Certificate(ca.certPem);
  if (!await cert.verify({ publicKey: caCert.publicKey, signatureOnly: true })) {
    return "the old one was not signed by the current CA";
  }
  if (!await keyMatchesCertificate(serving.key, cert)) {
    return "the old one does not match its key";
  }
  const renewAt = cert.notAfter.getTime() - SERVING_RENEW_DAYS * DAY_MS;
  if (now.getTime() >= renewAt) {
    return `the old one expires on ${cert.notAfter.toISOString()}`;
  }
  const present = new Set(certificateSans(cert).map(sanKey));
  const missing = required.filter((san) => !present.has(sanKey(san)));
  if (missing.length > 0) {
    return `the old one lacks ${missing.map((san) => `"${san.value}"`).join(", ")}`;
  }
  return undefined;
}
