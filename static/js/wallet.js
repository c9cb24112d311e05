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
