import { StreamSocket } from "./socket.js";

// Wallet page: picking another asset/network shows its deposit address at once (the form also
// works without this script, through its button).
const form = document.getElementById("deposit-address");
const select = document.getElementById("deposit-token");
if (form && select) {
  select.addEventListener("change", () => form.requestSubmit());
}

// Withdrawal form: an address-book entry supplies the network and address, so their fields hide;
// "a new address" shows them again. Without this script the server ignores them when an entry is
// picked.
const entry = document.getElementById("withdraw-entry");
const newAddress = document.getElementById("withdraw-new-address");
if (entry && newAddress) {
  const blockchain = document.getElementById("withdraw-blockchain");
  const address = document.getElementById("withdraw-address");
  const asset = document.getElementById("withdraw-asset");
  const sync = (fromUser) => {
    const option = entry.selectedOptions[0];
    const picked = Boolean(option && option.value);
    newAddress.hidden = picked;
    if (picked) {
      blockchain.value = option.dataset.blockchain || "";
      address.value = option.dataset.address || "";
      if (option.dataset.asset && asset && !asset.value) asset.value = option.dataset.asset;
    } else if (fromUser) {
      address.value = "";
    }
  };
  entry.addEventListener("change", () => sync(true));
  sync(false);
}

// Live tables: a balance event (a deposit credited, a withdrawal settled or released) re-reads the
// page and swaps the balance, deposit and withdrawal tables in place; statuses that move without
// touching a balance (held -> approved -> signed -> broadcast) are caught by a slow poll that runs
// only while some transfer is still on its way. The session authenticates the socket.
const LIVE_TABLES = ["wallet-balances", "deposits", "withdrawals"];
const FINAL_STATUSES = new Set(["confirmed", "declined", "rejected", "failed"]);
const POLL_MS = 5000;
let refreshing = null;

function transfersInFlight() {
  return [...document.querySelectorAll("#deposits tr[data-status], #withdrawals tr[data-status]")].some(
    (row) => !FINAL_STATUSES.has(row.dataset.status),
  );
}

async function refreshTables() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of LIVE_TABLES) {
      const current = document.querySelector(`#${id} tbody`);
      const next = fresh.querySelector(`#${id} tbody`);
      if (current && next) current.replaceWith(next);
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

if (document.getElementById("withdrawals")) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const stream = new StreamSocket({
    url: `${scheme}//${window.location.host}/`,
    statusElement: document.getElementById("socket-status"),
    onOpen: () => {
      stream.subscribe(["account.balanceUpdate"]);
      refreshTables().catch((error) => console.warn("wallet refresh failed", error));
    },
    onFrame: (frame) => {
      if (frame.stream === "account.balanceUpdate") {
        refreshTables().catch((error) => console.warn("wallet refresh failed", error));
      }
    },
  });
  stream.connect();
  setInterval(() => {
    if (transfersInFlight()) refreshTables().catch((error) => console.warn("wallet refresh failed", error));
  }, POLL_MS);
}
