/**
 * ECDSA P-256 keys through WebCrypto: generation, PKCS#8 PEM export and
 * import, and matching a private key against a certificate's public key.
 *
 * @module
 */

import * as x509 from "./_x509.ts";

/** The key algorithm of every Skiff key. */
export const KEY_ALGORITHM: EcKeyGenParams = {
  name: "ECDSA",
  namedCurve: "P-256",
};

/** The signature algorithm of every certificate Skiff issues. */
export const SIGNING_ALGORITHM: EcdsaParams = {
  name: "ECDSA",
  hash: "SHA-256",
};

/** Generates a new extractable ECDSA P-256 key pair. */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(KEY_ALGORITHM, true, [
    "sign",
    "verify",
  ]);
}

/** Encodes a private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/**
 * Decodes a PKCS#8 PEM ECDSA P-256 private key.
 *
 * @throws {TypeError} when the text is not one such key
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  let blocks: ReturnType<typeof x509.PemConverter.decodeWithHeaders>;
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch (cause) {
    throw new TypeError("Not a PEM private key: the PEM text is malformed", {
      cause,
    });
  }
  const block = blocks[0];
  if (blocks.length !== 1 || block === undefined) {
    throw new TypeError(
      `Not a PEM private key: expected one PEM block, found ${blocks.length}`,
    );
  }
  if (block.type !== "PRIVATE KEY") {
    throw new TypeError(
      `Not a PKCS#8 private key: the PEM block is "${block.type}", expected "PRIVATE KEY"`,
    );
  }
  try {
    return await crypto.subtle.importKey(
      "pkcs8",
      block.rawData,
      KEY_ALGORITHM,
      true,
      ["sign"],
    );
  } catch (cause) {
    throw new TypeError("Not an ECDSA P-256 PKCS#8 private key", { cause });
  }
}

/** Whether `privateKey` is the private half of `certificate`'s public key. */
export async function keyMatchesCertificate(
  privateKey: CryptoKey,
  certificate: x509.X509Certificate,
): Promise<boolean> {
  const own = await crypto.subtle.exportKey("jwk", privateKey);
  let theirs: JsonWebKey;
  try {
    const publicKey = await certificate.publicKey.export();
    theirs = await crypto.subtle.exportKey("jwk", publicKey);
  } catch {
    return false;
  }
  return own.crv === theirs.crv && own.x === theirs.x && own.y === theirs.y;
}
