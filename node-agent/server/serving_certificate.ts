/**
 * The agent's serving certificate for its logs and exec endpoint, signed by
 * the cluster CA.
 *
 * The agent makes an ECDSA P-256 key with WebCrypto and sends only a
 * PKCS#10 request for it to `POST /api/v1/nodes/<name>/certificate` (with
 * its own node credentials), so the private key never leaves the node. The
 * API server signs it for a year, for the node's name and the addresses of
 * its Node (`status.addresses`), whatever the request asks for. The
 * certificate, its key (mode 0600) and the CA that signed it are kept in
 * `<data-dir>/agent/` and reused on restart; {@linkcode ServingCertificateKeeper}
 * asks for a new one when fewer than 30 days remain, when the node's
 * addresses are no longer all in it, or when it is missing or unreadable,
 * and checks again twice a day.
 *
 * @module
 */

import { isIP } from "node:net";
import { join } from "node:path";
import { type Clock, type NodeAddress, systemClock } from "@skiff/api";
import type { ApiClient } from "@skiff/client";
import * as x509 from "./_x509.ts";

/** A serving certificate with its key and the CA that signed it, all PEM. */
export interface ServingCertificate {
  /** The certificate. */
  certPem: string;
  /** Its private key, PKCS#8. */
  keyPem: string;
  /** The cluster CA: what the API server's client certificate must be signed by. */
  caPem: string;
  /** When the certificate expires. */
  notAfter: Date;
}

/** A certificate with fewer days than this left is renewed. */
export const SERVING_RENEW_DAYS = 30;
/** How often the keeper checks whether to renew, in ms (twice a day). */
export const SERVING_CHECK_MS = 12 * 60 * 60 * 1000;
/** How soon a failed request for a certificate is tried again, in ms. */
export const SERVING_RETRY_MS = 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;
const KEY_ALGORITHM: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** Where the serving certificate, its key and the CA are kept under `dataDir`. */
export function servingCertificatePaths(dataDir: string): { cert: string; key: string; ca: string } {
  const dir = join(dataDir, "agent");
  return { cert: join(dir, "serving.crt"), key: join(dir, "serving.key"), ca: join(dir, "serving-ca.crt") };
}

/** The stored serving certificate; undefined when there is none, or it is unreadable. */
export async function loadServingCertificate(dataDir: string): Promise<ServingCertificate | undefined> {
  const paths = servingCertificatePaths(dataDir);
  try {
    const [certPem, keyPem, caPem] = await Promise.all([
      Deno.readTextFile(paths.cert),
      Deno.readTextFile(paths.key),
      Deno.readTextFile(paths.ca),
    ]);
    const cert = new x509.X509Certificate(certPem);
    return { certPem, keyPem, caPem, notAfter: cert.notAfter };
  } catch {
    return undefined;
  }
}

/** Stores `certificate` (the key with mode 0600), each file through a temporary file and a rename. */
export async function saveServingCertificate(dataDir: string, certificate: ServingCertificate): Promise<void> {
  const paths = servingCertificatePaths(dataDir);
  await Deno.mkdir(join(dataDir, "agent"), { recursive: true, mode: 0o700 });
  const write = async (path: string, text: string, mode: number) => {
    const temporary = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.writeTextFile(temporary, text, { mode });
    await Deno.chmod(temporary, mode);
    await Deno.rename(temporary, path);
  };
  await write(paths.key, certificate.keyPem, 0o600);
  await write(paths.cert, certificate.certPem, 0o644);
  await write(paths.ca, certificate.caPem, 0o644);
}

/**
 * Why `certificate` must be replaced at `now` for a node with `addresses`,
 * or undefined when it is fine.
 */
export function renewalReason(
  certificate: ServingCertificate,
  addresses: readonly NodeAddress[],
  now: number,
): string | undefined {
  if (certificate.notAfter.getTime() - now < SERVING_RENEW_DAYS * DAY_MS) {
    return `it expires on ${certificate.notAfter.toISOString()}`;
  }
  const cert = new x509.X509Certificate(certificate.certPem);
  const names = new Set(
    (cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []).map((n) => n.value.toLowerCase()),
  );
  const missing = addresses
    .filter((a) => a.type === "InternalIP" || a.type === "ExternalIP")
    .map((a) => a.address.toLowerCase())
    .filter((address) => isIP(address) !== 0 && !names.has(address));
  if (missing.length > 0) return `it does not name ${missing.map((a) => `"${a}"`).join(", ")}`;
  return undefined;
}

/**
 * Asks the API server for a new serving certificate for `nodeName`: makes
 * a key, sends a PKCS#10 request for it, and returns what was signed.
 *
 * @throws {ApiError} when the API server refuses (the node's token may ask only for its own node)
 */
export async function requestServingCertificate(client: ApiClient, nodeName: string): Promise<ServingCertificate> {
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [nodeName] }],
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  const answer = await client.json<{ status?: { certificate?: string; ca?: string } }>(
    "POST",
    `/api/v1/nodes/${encodeURIComponent(nodeName)}/certificate`,
    {
      body: {
        apiVersion: "v1",
        kind: "NodeCertificate",
        metadata: { name: nodeName },
        spec: { request: csr.toString("pem") },
      },
    },
  );
  const certPem = answer.status?.certificate;
  const caPem = answer.status?.ca;
  if (!certPem || !caPem) {
    throw new Error("The API server's NodeCertificate answer has no status.certificate or status.ca");
  }
  const cert = new x509.X509Certificate(certPem);
  const ours = await crypto.subtle.exportKey("spki", keys.publicKey);
  const signed = cert.publicKey.rawData;
  if (!sameBytes(new Uint8Array(ours), new Uint8Array(signed))) {
    throw new Error("The API server signed a certificate for another key than the one this node sent");
  }
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    certPem,
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    caPem,
    notAfter: cert.notAfter,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

/** Options of {@linkcode ServingCertificateKeeper}. */
export interface ServingCertificateKeeperOptions {
  /** The API client, acting as the node. */
  client: ApiClient;
  /** The node's name. */
  nodeName: string;
  /** The node's addresses, which the certificate must name. */
  addresses: readonly NodeAddress[];
  /** Where the certificate is kept. */
  dataDir: string;
  /** Called with each certificate in use: the stored one at start, then each renewal. */
  onCertificate: (certificate: ServingCertificate) => void;
  /** Time source for the checks. */
  clock?: Clock;
  /** Where renewals and failures are told. */
  log?: (line: string) => void;
}

/** Keeps the serving certificate valid: loads or requests it, then renews it in time. */
export class ServingCertificateKeeper {
  readonly #options: ServingCertificateKeeperOptions;
  readonly #clock: Clock;
  #timer: number | undefined;
  #stopped = false;
  #current: ServingCertificate | undefined;

  /** A keeper for the node of `options.client`. */
  constructor(options: ServingCertificateKeeperOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The certificate in use, if any. */
  get current(): ServingCertificate | undefined {
    return this.#current;
  }

  /**
   * Uses the stored certificate, or gets a new one, then checks on a
   * timer. Resolves to the certificate in use; rejects when there is none
   * and the API server does not give one (the keeper keeps trying).
   */
  async start(): Promise<ServingCertificate> {
    try {
      return await this.#check();
    } finally {
      this.#schedule(this.#current ? SERVING_CHECK_MS : SERVING_RETRY_MS);
    }
  }

  /** Stops checking. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #check(): Promise<ServingCertificate> {
    const { dataDir, addresses, log } = this.#options;
    const now = Date.now();
    const stored = this.#current ?? await loadServingCertificate(dataDir);
    const reason = stored ? renewalReason(stored, addresses, now) : "there is none yet";
    if (stored && reason === undefined) {
      if (this.#current !== stored) {
        this.#current = stored;
        this.#options.onCertificate(stored);
      }
      return stored;
    }
    const fresh = await requestServingCertificate(this.#options.client, this.#options.nodeName);
    await saveServingCertificate(dataDir, fresh);
    this.#current = fresh;
    log?.(
      `Serving certificate: got a new one from the API server, valid until ${fresh.notAfter.toISOString()}, because ${reason}`,
    );
    this.#options.onCertificate(fresh);
    return fresh;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#check().then(
        () => this.#schedule(SERVING_CHECK_MS),
        (error) => {
          this.#options.log?.(
            `Serving certificate: cannot get one from the API server: ${
              error instanceof Error ? error.message : error
            }; trying again in ${SERVING_RETRY_MS / 1000} s`,
          );
          this.#schedule(SERVING_RETRY_MS);
        },
      );
    }, ms);
  }
}
