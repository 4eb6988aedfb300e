// konto — small progressive enhancements. Pages work without this file except passkeys.
"use strict";
document.documentElement.classList.add("js");

function b64urlToBuf(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const buf = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
  return buf.buffer;
}

function bufToB64url(buf) {
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function postJson(url, body) {
  const r = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (r.status === 401) {
    // konto asks to sign in again first (an account change needs a recent sign-in)
    const body = await r.json().catch(() => ({}));
    if (typeof body.redirect === "string" && body.redirect.startsWith("/")) {
      window.location.assign(body.redirect);
      return new Promise(() => {});
    }
  }
  if (!r.ok) throw new Error("request failed: " + r.status);
  return r.json();
}

function showPasskeyError() {
  for (const el of document.querySelectorAll(".passkey-error")) el.hidden = false;
}

async function passkeyLogin(button) {
  const flow = button.dataset.flow, csrf = button.dataset.csrf;
  const username = (document.getElementById("username") || {}).value || "";
  const options = await postJson("/login/passkey/start", { flow, csrf, username });
  const pk = options.publicKey;
  pk.challenge = b64urlToBuf(pk.challenge);
  for (const c of pk.allowCredentials || []) c.id = b64urlToBuf(c.id);
  const cred = await navigator.credentials.get({ publicKey: pk });
  const credential = {
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    extensions: cred.getClientExtensionResults(),
    response: {
      authenticatorData: bufToB64url(cred.response.authenticatorData),
      clientDataJSON: bufToB64url(cred.response.clientDataJSON),
      signature: bufToB64url(cred.response.signature),
      userHandle: cred.response.userHandle ? bufToB64url(cred.response.userHandle) : null,
    },
  };
  const done = await postJson("/login/passkey/finish", { flow, csrf, credential });
  window.location.assign(done.redirect);
}

async function passkeyRegister(button) {
  const csrf = button.dataset.csrf;
  const start = await postJson("/account/passkey/start", { csrf });
  const pk = start.options.publicKey;
  pk.challenge = b64urlToBuf(pk.challenge);
  pk.user.id = b64urlToBuf(pk.user.id);
  for (const c of pk.excludeCredentials || []) c.id = b64urlToBuf(c.id);
  const cred = await navigator.credentials.create({ publicKey: pk });
  const credential = {
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    extensions: cred.getClientExtensionResults(),
    response: {
      attestationObject: bufToB64url(cred.response.attestationObject),
      clientDataJSON: bufToB64url(cred.response.clientDataJSON),
      transports: cred.response.getTransports ? cred.response.getTransports() : [],
    },
  };
  const done = await postJson("/account/passkey/finish", { csrf, flow: start.flow, credential });
  window.location.assign(done.redirect);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-autosubmit]")) form.submit();
  for (const button of document.querySelectorAll("[data-passkey]")) {
    button.addEventListener("click", () => {
      const run = button.dataset.passkey === "register" ? passkeyRegister : passkeyLogin;
      run(button).catch(showPasskeyError);
    });
  }
});
