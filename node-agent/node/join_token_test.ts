import assert from "node:assert/strict";
import { caHashOfPem, formatJoinToken, isJoinToken, parseJoinToken } from "./join_token.ts";

/** A CA made with `openssl req -x509 -newkey ec`; its hash from `openssl x509 -outform der | sha256sum`. */
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUA5k+rPRrz6beqIfQgc+jAm2dIMMwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNc2tpZmYtdGVzdC1jYTAeFw0yNjExMjQwMTE2MDdaFw0zNjEx
MjEwMTE2MDdaMBgxFjAUBgNVBAMMDXNraWZmLXRlc3QtY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAQpVYv7Udu+xSD7/YruBfFemEGySrmCDPywj45J7lCXYocy
24U6iR4SOC3BZQ4F52a3zAcuh6opidiZ/Gq9n4MUo1MwUTAdBgNVHQ4EFgQU8Wm8
4u6jW635Fz/EsNEKmsNWGcQwHwYDVR0jBBgwFoAU8Wm84u6jW635Fz/EsNEKmsNW
GcQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAv1OSgMGtQTrUN
rhPR5iGgIXE1H0hk8BSeTcWOw+3F4gIgMm18Q6TGMY08c4CQioP051lGkl3Za41X
HnOknYq+q3Y=
-----END CERTIFICATE-----
`;
const CA_HASH = "sha256:77bd36e021e94029344f7b23af99bb90001d57ee23eb23a02d58ebb0e3198e75";
const BEARER = "abc123.0123456789abcdefghijklmnopqrstuv";

Deno.test("caHashOfPem() is the SHA-256 of the CA's DER, as openssl computes it", async () => {
  assert.equal(await caHashOfPem(CA_PEM), CA_HASH);
  assert.equal(await caHashOfPem(`# cluster CA\n${CA_PEM}${CA_PEM}`), CA_HASH, "the first certificate counts");
  await assert.rejects(() => caHashOfPem("not a certificate"), TypeError);
  await assert.rejects(
    () => caHashOfPem("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----"),
    /holds no PEM certificate/,
  );
});

Deno.test("formatJoinToken() writes K10<hash>::<id>.<secret> and parseJoinToken() takes it apart", () => {
  const joinToken = formatJoinToken(CA_HASH, BEARER);
  assert.equal(joinToken, `K10${CA_HASH.slice("sha256:".length)}::${BEARER}`);
  assert.equal(formatJoinToken(CA_HASH.slice("sha256:".length), BEARER), joinToken, "bare hex is accepted");
  assert.deepEqual(parseJoinToken(` ${joinToken}\n`), { caHash: CA_HASH, token: BEARER, id: "abc123" });
  assert.ok(isJoinToken(joinToken));
  assert.ok(isJoinToken(joinToken.slice(0, 40)), "a join token cut short is still meant as one");
  assert.ok(!isJoinToken(BEARER));
});

Deno.test("parseJoinToken() and formatJoinToken() refuse what is not a join token, saying what one looks like", () => {
  for (
    const bad of [
      BEARER,
      `K10${"0".repeat(63)}::${BEARER}`,
      `K10${"0".repeat(64)}::abc123`,
      `K10${"0".repeat(64)}:${BEARER}`,
      `K10${"G".repeat(64)}::${BEARER}`,
    ]
  ) {
    assert.throws(
      () => parseJoinToken(bad),
      /Invalid join token: expected K10<64 hex digits of the CA hash>::<id>\.<secret>/,
    );
  }
  assert.throws(() => formatJoinToken("sha256:abc", BEARER), /Invalid CA hash "sha256:abc"/);
  assert.throws(() => formatJoinToken(CA_HASH, "no-dot"), TypeError);
});
