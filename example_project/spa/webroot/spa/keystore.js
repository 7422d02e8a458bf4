// The DPoP key pair, kept in IndexedDB as a non-extractable WebCrypto key (RFC 9449 §2, §11.4).
//
// IndexedDB stores CryptoKey objects by structured clone: the private key survives a reload with
// its `extractable: false` flag, so page script can sign with it but never read or export it.

const DB_NAME = "django-dpop-spa";
const STORE = "keys";
const KEY_ID = "dpop-es256";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function run(mode, operation) {
  return openDb().then(
    (db) =>
      new Promise((resolve, reject) => {
        const transaction = db.transaction(STORE, mode);
        const request = operation(transaction.objectStore(STORE));
        transaction.oncomplete = () => {
          db.close();
          resolve(request.result);
        };
        transaction.onerror = () => {
          db.close();
          reject(transaction.error);
        };
        transaction.onabort = () => {
          db.close();
          reject(transaction.error);
        };
      }),
  );
}

/** The stored key pair, or a new ES256 one (private key non-extractable), stored first. */
export async function loadOrCreateKeyPair() {
  const stored = await run("readonly", (store) => store.get(KEY_ID));
  if (stored) return stored;
  const pair = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    false, // extractable: false applies to the private key; a public key is always exportable
    ["sign", "verify"],
  );
  try {
    // add(), not put(): when two tabs race, the first key wins and both use it.
    await run("readwrite", (store) => store.add(pair, KEY_ID));
    return pair;
  } catch (error) {
    if (error && error.name === "ConstraintError") {
      return run("readonly", (store) => store.get(KEY_ID));
    }
    throw error;
  }
}

/** Forget the key pair: tokens bound to it become useless. */
export function deleteKeyPair() {
  return run("readwrite", (store) => store.delete(KEY_ID));
}
