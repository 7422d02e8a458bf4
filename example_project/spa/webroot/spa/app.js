// The example SPA: authorization code + PKCE + dpop_jkt as the public client "spa" (RFC 9449 §10),
// DPoP-bound tokens, /api/me/, refresh, and use_dpop_nonce at both servers.

import { DPoPSigner, base64url, challengeError, randomToken, sha256 } from "./dpop.js";
import { deleteKeyPair, loadOrCreateKeyPair } from "./keystore.js";

const CLIENT_ID = "spa";
const SCOPE = "read";
const SERVER_KEY = "spa.server"; // localStorage: the server this SPA talks to
const PENDING_KEY = "spa.pending"; // sessionStorage: state and PKCE verifier of a sign-in under way
const TOKENS_KEY = "spa.tokens"; // sessionStorage: this tab's tokens (see docs/browser-clients.md)

const $ = (id) => document.getElementById(id);
let signer;
const metadataCache = new Map();

class Refusal extends Error {}

// -- display ------------------------------------------------------------------------------------

function log(text) {
  const item = document.createElement("li");
  item.textContent = text;
  $("log").append(item);
}

function status(text, kind = "info") {
  $("status").textContent = text;
  $("status").className = kind;
  log(text);
}

function showTokens() {
  const tokens = loadTokens();
  $("session").textContent = tokens
    ? `Signed in at ${tokens.server}; access token expires ${new Date(tokens.expires_at).toLocaleTimeString()}` +
      (tokens.refresh_token ? ", refresh token held." : ".")
    : "Not signed in.";
}

// -- storage ------------------------------------------------------------------------------------

function loadTokens() {
  return JSON.parse(sessionStorage.getItem(TOKENS_KEY) || "null");
}

function saveTokens(tokens) {
  sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
  showTokens();
}

function forgetTokens() {
  sessionStorage.removeItem(TOKENS_KEY);
  showTokens();
}

function serverOrigin() {
  let value = $("server").value.trim() || location.origin;
  try {
    value = new URL(value).origin;
  } catch {
    throw new Refusal(`"${value}" is not a server URL (e.g. http://127.0.0.1:8000).`);
  }
  $("server").value = value;
  localStorage.setItem(SERVER_KEY, value);
  return value;
}

// -- protocol -----------------------------------------------------------------------------------

/** RFC 8414 metadata of ``server`` (an issuer without a path: the document is at the root). */
async function discover(server) {
  if (metadataCache.has(server)) return metadataCache.get(server);
  const response = await fetch(`${server}/.well-known/oauth-authorization-server`, {
    credentials: "omit",
    redirect: "error",
  });
  if (!response.ok) throw new Refusal(`No authorization server metadata at ${server} (HTTP ${response.status}).`);
  const metadata = await response.json();
  if (metadata.issuer !== server) {
    // RFC 8414 §3.3: the issuer must be the one whose metadata was asked for.
    throw new Refusal(`Metadata issuer ${metadata.issuer} is not ${server}: refused.`);
  }
  if (!(metadata.dpop_signing_alg_values_supported || []).includes("ES256")) {
    throw new Refusal(`${server} does not accept ES256 DPoP proofs (dpop_signing_alg_values_supported).`);
  }
  if (!(metadata.code_challenge_methods_supported || ["S256"]).includes("S256")) {
    throw new Refusal(`${server} does not support PKCE S256.`);
  }
  metadataCache.set(server, metadata);
  return metadata;
}

async function signIn() {
  const server = serverOrigin();
  const metadata = await discover(server);
  const verifier = randomToken(32); // RFC 7636 §4.1: 43 characters, 256 bits
  const state = randomToken(16);
  const redirectUri = new URL("./", location.href).href; // this page's directory: .../spa/
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, server, redirectUri }));
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    code_challenge: base64url(await sha256(verifier)),
    code_challenge_method: "S256",
    dpop_jkt: signer.jkt, // binds the code to this key (RFC 9449 §10)
  }).toString();
  location.assign(url.href);
}

/** The redirect back from the authorization endpoint: check state, exchange the code. */
async function completeSignIn(params) {
  // Take the code out of the address bar and the history at once.
  history.replaceState(null, "", location.pathname);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (!pending || params.get("state") !== pending.state) {
    throw new Refusal("This sign-in answer was not started by this page (state mismatch): ignored.");
  }
  if (params.has("error")) {
    const description = params.get("error_description");
    throw new Refusal(`Sign-in refused: ${params.get("error")}${description ? ` (${description})` : ""}.`);
  }
  const metadata = await discover(pending.server);
  if (params.has("iss") && params.get("iss") !== metadata.issuer) {
    throw new Refusal(`The answer comes from issuer ${params.get("iss")}, not ${metadata.issuer} (RFC 9207).`);
  }
  await tokenRequest(pending.server, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: pending.redirectUri,
    client_id: CLIENT_ID,
    code_verifier: pending.verifier,
  });
  status("Signed in: DPoP-bound access and refresh tokens received.", "ok");
}

async function tokenRequest(server, form) {
  const metadata = await discover(server);
  const response = await signer.fetch(metadata.token_endpoint, {
    method: "POST",
    role: "token",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams(form),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Refusal(
      `Token endpoint refused (${response.status} ${body.error || "no error code"})` +
        (body.error_description ? `: ${body.error_description}` : "."),
      { cause: body.error },
    );
  }
  // RFC 9449 §5: a Bearer answer means the server did not bind the token; do not use it.
  if (String(body.token_type).toLowerCase() !== "dpop") {
    throw new Refusal(`The server issued a ${body.token_type} token, not a DPoP-bound one: discarded.`);
  }
  const previous = loadTokens();
  saveTokens({
    server,
    access_token: body.access_token,
    refresh_token: body.refresh_token || (previous && previous.refresh_token) || null,
    expires_at: Date.now() + (Number(body.expires_in) || 0) * 1000,
    scope: body.scope,
  });
}

async function refresh() {
  const tokens = loadTokens();
  if (!tokens || !tokens.refresh_token) throw new Refusal("No refresh token: sign in first.");
  try {
    await tokenRequest(tokens.server, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: CLIENT_ID,
    });
  } catch (error) {
    if (error instanceof Refusal && error.cause === "invalid_grant") {
      forgetTokens();
      throw new Refusal(`${error.message} Sign in again.`);
    }
    throw error;
  }
  status("Token refreshed: a new DPoP-bound access token.", "ok");
}

function apiGet(tokens) {
  return signer.fetch(`${tokens.server}/api/me/`, {
    role: "api",
    accessToken: tokens.access_token,
    headers: { Accept: "application/json" },
  });
}

async function callApi() {
  let tokens = loadTokens();
  if (!tokens) throw new Refusal("Not signed in: press Sign in first.");
  if (tokens.refresh_token && tokens.expires_at - Date.now() < 10_000) {
    log("Access token about to expire: refreshing first.");
    await refresh();
    tokens = loadTokens();
  }
  let response = await apiGet(tokens);
  if (response.status === 401 && challengeError(response) === "invalid_token" && tokens.refresh_token) {
    log("API: invalid_token, refreshing the access token once.");
    await refresh();
    response = await apiGet(loadTokens());
  }
  const text = await response.text();
  if (!response.ok) {
    const challenge = response.headers.get("WWW-Authenticate");
    throw new Refusal(`API refused (${response.status})${challenge ? `: ${challenge}` : `: ${text.slice(0, 200)}`}`);
  }
  const answer = JSON.parse(text);
  $("me").textContent = JSON.stringify(answer, null, 2);
  status(
    answer.jkt === signer.jkt
      ? "API answered: the token is bound to this browser's key."
      : "API answered, but the token is bound to another key!",
    answer.jkt === signer.jkt ? "ok" : "error",
  );
}

async function signOut() {
  const tokens = loadTokens();
  forgetTokens();
  $("me").textContent = "";
  let revoked = false;
  if (tokens && tokens.refresh_token) {
    const metadata = await discover(tokens.server);
    if (metadata.revocation_endpoint) {
      // RFC 7009; revoking the refresh token revokes its access token at DOT too.
      const response = await fetch(metadata.revocation_endpoint, {
        method: "POST",
        credentials: "omit",
        body: new URLSearchParams({ token: tokens.refresh_token, token_type_hint: "refresh_token", client_id: CLIENT_ID }),
      }).catch(() => null);
      revoked = Boolean(response && response.ok);
    }
  }
  status(
    revoked
      ? "Signed out: tokens revoked and forgotten (the key stays)."
      : "Signed out: tokens forgotten here; the server did not confirm their revocation.",
  );
}

async function newKey() {
  await deleteKeyPair();
  forgetTokens();
  $("me").textContent = "";
  await loadKey();
  status("New key created: sign in again to bind tokens to it.");
}

async function loadKey() {
  signer = await DPoPSigner.create(await loadOrCreateKeyPair(), log);
  $("jkt").textContent = signer.jkt;
}

// -- wiring -------------------------------------------------------------------------------------

function explain(error) {
  if (error instanceof Refusal) return error.message;
  if (error instanceof TypeError) {
    // fetch() tells script nothing more on purpose: no server, or CORS refused this origin.
    return `Could not reach the server (${error.message}): is it running, and does its CORS setting allow ${location.origin}?`;
  }
  return `Unexpected error: ${error}`;
}

function button(id, action) {
  $(id).addEventListener("click", async () => {
    $(id).disabled = true;
    try {
      await action();
    } catch (error) {
      status(explain(error), "error");
    } finally {
      $(id).disabled = false;
    }
  });
}

async function main() {
  if (!window.isSecureContext || !crypto.subtle) {
    status("WebCrypto needs a secure context: open this page over https or on localhost / 127.0.0.1.", "error");
    return;
  }
  $("origin").textContent = location.origin;
  $("server").value = localStorage.getItem(SERVER_KEY) || location.origin;
  await loadKey();
  showTokens();
  button("sign-in", signIn);
  button("call-api", callApi);
  button("refresh", refresh);
  button("sign-out", signOut);
  button("new-key", newKey);
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    try {
      await completeSignIn(params);
    } catch (error) {
      status(explain(error), "error");
    }
  }
  document.body.dataset.ready = "true"; // for tests: the key is loaded and the buttons work
}

main().catch((error) => status(explain(error), "error"));
