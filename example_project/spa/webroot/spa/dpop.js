// DPoP proofs (RFC 9449 §4) with WebCrypto, and fetch() that follows use_dpop_nonce (§8, §9).

const encoder = new TextEncoder();

export function base64url(bytes) {
  const data = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  let binary = "";
  for (const byte of data) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export function randomToken(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The public JWK: only the members RFC 7517 defines for an EC public key. */
export async function publicJwk(publicKey) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", publicKey);
  return { kty, crv, x, y };
}

/** RFC 7638 thumbprint: required members in lexicographic order, no whitespace, SHA-256. */
export async function thumbprint(jwk) {
  return base64url(await sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })));
}

/** RFC 9449 §4.2: htu is the target URI without query and fragment. */
export function htu(url) {
  const parsed = new URL(url);
  parsed.search = "";
  parsed.hash = "";
  return parsed.href;
}

/**
 * A signer holding one key pair (its private key non-extractable) and the servers' nonces.
 *
 * Nonces are kept per server origin and per role ("token" endpoint, "api" resource), as the
 * authorization server and the resource server each issue their own (RFC 9449 §8, §9).
 */
export class DPoPSigner {
  constructor(keyPair, jwk, jkt, log = () => {}) {
    this.keyPair = keyPair;
    this.jwk = jwk;
    this.jkt = jkt;
    this.log = log;
    this.nonces = new Map();
  }

  static async create(keyPair, log) {
    const jwk = await publicJwk(keyPair.publicKey);
    return new DPoPSigner(keyPair, jwk, await thumbprint(jwk), log);
  }

  async proof(method, url, { accessToken, nonce } = {}) {
    const header = { typ: "dpop+jwt", alg: "ES256", jwk: this.jwk };
    const payload = {
      jti: randomToken(16), // 128 bits, new for every request (§4.2, §11.1)
      htm: method,
      htu: htu(url),
      iat: Math.floor(Date.now() / 1000),
    };
    if (accessToken) payload.ath = base64url(await sha256(accessToken)); // §4.2, §7.1
    if (nonce) payload.nonce = nonce;
    const input = `${base64url(encoder.encode(JSON.stringify(header)))}.${base64url(
      encoder.encode(JSON.stringify(payload)),
    )}`;
    // WebCrypto's ECDSA signature is r || s, the JWS form (RFC 7518 §3.4).
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      this.keyPair.privateKey,
      encoder.encode(input),
    );
    return `${input}.${base64url(signature)}`;
  }

  /**
   * fetch() with a fresh proof; retried once, with a new proof, when the server asks for a nonce:
   * 400 {"error": "use_dpop_nonce"} at a token endpoint, 401 with a use_dpop_nonce challenge at a
   * resource. Redirects are refused: a proof names one URL.
   */
  async fetch(url, { method = "GET", role, accessToken, headers = {}, body } = {}) {
    const scope = `${role} ${new URL(url).origin}`;
    for (let attempt = 0; ; attempt += 1) {
      const sent = new Headers(headers);
      sent.set("DPoP", await this.proof(method, url, { accessToken, nonce: this.nonces.get(scope) }));
      if (accessToken) sent.set("Authorization", `DPoP ${accessToken}`);
      const response = await fetch(url, {
        method,
        headers: sent,
        body,
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
      });
      const nonce = response.headers.get("DPoP-Nonce");
      if (nonce) this.nonces.set(scope, nonce);
      if (attempt === 0 && nonce && (await isNonceChallenge(response, role))) {
        this.log(`${role === "token" ? "Token endpoint" : "API"}: use_dpop_nonce, retrying with the server's nonce`);
        continue;
      }
      return response;
    }
  }
}

async function isNonceChallenge(response, role) {
  if (role === "token") {
    if (response.status !== 400) return false;
    try {
      return (await response.clone().json()).error === "use_dpop_nonce";
    } catch {
      return false;
    }
  }
  if (response.status !== 401) return false;
  const challenge = response.headers.get("WWW-Authenticate");
  return challenge === null || /error="use_dpop_nonce"/.test(challenge);
}

/** The error code of a resource's DPoP challenge (RFC 9449 §7.1), if any. */
export function challengeError(response) {
  const match = /error="([^"]*)"/.exec(response.headers.get("WWW-Authenticate") || "");
  return match ? match[1] : null;
}
