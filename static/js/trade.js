// The trading page: keeps the server-rendered page live from the REST API and the stream socket.
//
// Public data: the order book (snapshot + `depth.<symbol>` deltas), recent trades
// (`trade.<symbol>`), candles (`kline.<interval>.<symbol>`). The logged-in user's own data (open
// orders, history, fills, balances) is re-read from REST whenever `account.orderUpdate` or
// `account.balanceUpdate` says it changed; the socket is authenticated by the session cookie.
// Every (re)connection re-fetches every snapshot, so nothing that happened while it was down is lost.

import { ApiError, api } from "./api.js";
import { DepthBook } from "./book.js";
import { drawCandles } from "./chart.js";
import { add, compare, fixed, isMultiple, isPositive, isWellFormed, subtract } from "./decimal.js";
import { StreamSocket } from "./socket.js";

const config = JSON.parse(document.getElementById("trade-config").textContent);
const SYMBOL = config.symbol;
const INTERVAL_SECONDS = {
  "1m": 60,
  "5m": 300,
  "15m": 900,
  "1h": 3600,
  "4h": 14400,
  "1d": 86400,
  "1w": 604800,
};
const CANDLES = 150;
const DEPTH_LIMIT = 1000;
const REFRESH_DELAY_MS = 150;

const $ = (id) => document.getElementById(id);
const price = (text) => fixed(text, config.pricePlaces);
const quantity = (text) => fixed(text, config.quantityPlaces);

function cell(text, className) {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

function replaceRows(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
}

function utcTime(milliseconds) {
  return new Date(milliseconds).toISOString().slice(11, 19);
}

// --- order book -----------------------------------------------------------------------------------

const book = new DepthBook();
let resyncing = null;

function levelRow([levelPrice, levelQuantity], side) {
  const shown = price(levelPrice);
  const row = document.createElement("tr");
  row.dataset.price = shown;
  row.append(cell(shown, `price num ${side}`), cell(quantity(levelQuantity), "quantity num"));
  return row;
}

function renderBook() {
  const { asks, bids } = book.levels(config.bookLevels);
  replaceRows($("asks"), asks.reverse().map((level) => levelRow(level, "down")));
  replaceRows($("bids"), bids.map((level) => levelRow(level, "up")));
  const spread = $("book-spread");
  if (asks.length && bids.length) {
    const bestAsk = asks[asks.length - 1][0];
    const bestBid = bids[0][0];
    spread.textContent = `Spread ${price(subtract(bestAsk, bestBid))}`;
  } else {
    spread.textContent = asks.length || bids.length ? "" : "No resting orders";
  }
}

async function resyncBook() {
  // One snapshot at a time; deltas arriving meanwhile are buffered by the book.
  if (resyncing) return resyncing;
  book.reset();
  resyncing = (async () => {
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const snapshot = await api("GET", "/api/v1/depth", { query: { symbol: SYMBOL, limit: DEPTH_LIMIT } });
        if (book.loadSnapshot(snapshot)) {
          renderBook();
          return;
        }
        book.reset();
      }
      stream.restart(); // still out of step: start the stream afresh
    } catch (error) {
      console.warn("order book snapshot failed", error);
    } finally {
      resyncing = null;
    }
  })();
  return resyncing;
}

function onDepth(delta) {
  const outcome = book.apply(delta);
  if (outcome === "applied") renderBook();
  else if (outcome === "gap") resyncBook();
}

// --- recent trades ----------------------------------------------------------------------------------

const tradeIds = new Set();

function tradeRow({ id, price: tradePrice, quantity: tradeQuantity, time, buyerIsTaker }) {
  const row = document.createElement("tr");
  row.dataset.tradeId = String(id);
  row.append(
    cell(price(tradePrice), `price num ${buyerIsTaker ? "up" : "down"}`),
    cell(quantity(tradeQuantity), "quantity num"),
    cell(time, "time num"),
  );
  return row;
}

function setLastPrice(text) {
  $("last-price").textContent = price(text);
}

async function loadTrades() {
  const trades = await api("GET", "/api/v1/trades", { query: { symbol: SYMBOL, limit: config.recentTrades } });
  tradeIds.clear();
  const rows = trades.map((trade) => {
    tradeIds.add(String(trade.id));
    return tradeRow({
      id: trade.id,
      price: trade.price,
      quantity: trade.quantity,
      time: utcTime(trade.timestamp),
      buyerIsTaker: !trade.isBuyerMaker,
    });
  });
  replaceRows($("recent-trades"), rows);
  if (trades.length) setLastPrice(trades[0].price);
}

function onTrade(data) {
  const id = String(data.t);
  if (tradeIds.has(id)) return;
  tradeIds.add(id);
  const body = $("recent-trades").tBodies[0];
  body.prepend(
    tradeRow({ id, price: data.p, quantity: data.q, time: utcTime(Math.floor(data.T / 1000)), buyerIsTaker: !data.m }),
  );
  while (body.rows.length > config.recentTrades) {
    tradeIds.delete(body.rows[body.rows.length - 1].dataset.tradeId);
    body.deleteRow(-1);
  }
  setLastPrice(data.p);
}

// --- chart ------------------------------------------------------------------------------------------

let interval = config.interval;
let candles = [];
const canvas = $("price-chart");

function redraw() {
  drawCandles(canvas, candles, { pricePlaces: config.pricePlaces });
}

async function loadCandles() {
  const wanted = interval;
  const seconds = INTERVAL_SECONDS[wanted] || 60;
  const startTime = Math.floor(Date.now() / 1000) - seconds * CANDLES;
  const rows = await api("GET", "/api/v1/klines", { query: { symbol: SYMBOL, interval: wanted, startTime } });
  if (wanted !== interval) return; // the user picked another interval meanwhile
  candles = rows.map((row) => ({ start: row.start, open: row.open, high: row.high, low: row.low, close: row.close }));
  redraw();
}

function onKline(data) {
  const start = String(data.t).replace("T", " ");
  const candle = { start, open: data.o, high: data.h, low: data.l, close: data.c };
  const index = candles.findIndex((existing) => existing.start === start);
  if (index >= 0) candles[index] = candle;
  else if (!candles.length || candles[candles.length - 1].start < start) candles.push(candle);
  else return;
  if (candles.length > CANDLES * 2) candles = candles.slice(-CANDLES);
  redraw();
}

// --- the user's orders, fills and balances -----------------------------------------------------------

function orderCells(order) {
  return [
    cell(order.side, `side ${order.side === "Bid" ? "up" : "down"}`),
    cell(order.orderType, "type"),
    cell(order.price ? price(order.price) : "Market", "price num"),
    cell(order.quantity ? quantity(order.quantity) : "", "quantity num"),
    cell(quantity(order.executedQuantity || "0"), "filled num"),
    cell(order.status, "status"),
  ];
}

async function loadOpenOrders() {
  const orders = await api("GET", "/api/v1/orders", { query: { symbol: SYMBOL } });
  orders.sort((x, y) => compare(y.id, x.id));
  replaceRows(
    $("open-orders"),
    orders.map((order) => {
      const row = document.createElement("tr");
      row.dataset.orderId = order.id;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button-small button-secondary";
      button.dataset.cancel = order.id;
      button.textContent = "Cancel";
      button.setAttribute("aria-label", `Cancel order ${order.id}`);
      const actions = document.createElement("td");
      actions.append(button);
      row.append(...orderCells(order), actions);
      return row;
    }),
  );
}

async function loadOrderHistory() {
  const orders = await api("GET", "/wapi/v1/history/orders", { query: { symbol: SYMBOL, limit: config.historyRows } });
  replaceRows(
    $("order-history"),
    orders.map((order) => {
      const row = document.createElement("tr");
      row.dataset.orderId = order.id;
      row.append(...orderCells(order));
      return row;
    }),
  );
}

async function loadFills() {
  const fills = await api("GET", "/wapi/v1/history/fills", { query: { symbol: SYMBOL, limit: config.historyRows } });
  replaceRows(
    $("fills"),
    fills.map((fill) => {
      const row = document.createElement("tr");
      row.dataset.tradeId = String(fill.tradeId);
      row.dataset.orderId = fill.orderId;
      row.append(
        cell(fill.timestamp.replace("T", " ").slice(0, 19), "time num"),
        cell(fill.side, `side ${fill.side === "Bid" ? "up" : "down"}`),
        cell(price(fill.price), "price num"),
        cell(quantity(fill.quantity), "quantity num"),
        cell(`${fill.fee} ${fill.feeSymbol}`, "fee num"),
        cell(fill.isMaker ? "Maker" : "Taker", "liquidity"),
      );
      return row;
    }),
  );
}

async function loadBalances() {
  const capital = await api("GET", "/api/v1/capital");
  const assets = [
    [config.base, config.baseDecimals],
    [config.quote, config.quoteDecimals],
  ];
  replaceRows(
    $("balances"),
    assets.map(([asset, decimals]) => {
      const buckets = capital[asset] || { available: "0", locked: "0" };
      const row = document.createElement("tr");
      row.dataset.asset = asset;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = asset;
      row.append(
        name,
        cell(fixed(buckets.available, decimals), "available num"),
        cell(fixed(buckets.locked, decimals), "locked num"),
        cell(fixed(add(buckets.available, buckets.locked), decimals), "total num"),
      );
      return row;
    }),
  );
}

const loaders = {
  openOrders: loadOpenOrders,
  history: loadOrderHistory,
  fills: loadFills,
  balances: loadBalances,
};
const pending = new Set();
let refreshTimer = null;

// Coalesce bursts of account events into one REST read per table.
function refresh(...names) {
  if (!config.authenticated) return;
  names.forEach((name) => pending.add(name));
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const names = [...pending];
    pending.clear();
    for (const name of names) {
      loaders[name]().catch((error) => console.warn(`refreshing ${name} failed`, error));
    }
  }, REFRESH_DELAY_MS);
}

// --- the order form ---------------------------------------------------------------------------------

const FIELDS = ["side", "orderType", "price", "quantity", "postOnly", "ioc"];
const form = $("order-form");

function clearMessages() {
  for (const field of FIELDS) {
    $(`${field}-error`).textContent = "";
    const input = form.elements[field];
    if (input && input.setAttribute) input.removeAttribute("aria-invalid");
  }
  $("order-form-error").textContent = "";
  $("order-form-status").textContent = "";
}

function fieldError(field, message) {
  $(`${field}-error`).textContent = message;
  const input = form.elements[field];
  if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
}

function syncFormState() {
  const market = form.elements.orderType.value === "Market";
  form.elements.price.disabled = market;
  form.elements.postOnly.disabled = market;
  if (market) form.elements.postOnly.checked = false;
  const side = form.elements.side.value;
  form.querySelector("button[type=submit]").textContent =
    `${side === "Ask" ? "Sell" : "Buy"} ${config.base}`;
}

// Client-side checks: the server checks all of these again, and more.
function validate(values) {
  const errors = {};
  if (values.side !== "Bid" && values.side !== "Ask") errors.side = "Choose buy or sell.";
  if (values.orderType === "Limit") {
    if (!values.price) errors.price = "Enter a price.";
    else if (!isWellFormed(values.price) || !isPositive(values.price)) errors.price = "Enter a positive number.";
    else if (!isMultiple(values.price, config.tickSize)) errors.price = `The price must be a multiple of ${config.tickSize}.`;
  }
  if (!values.quantity) errors.quantity = "Enter a quantity.";
  else if (!isWellFormed(values.quantity) || !isPositive(values.quantity)) errors.quantity = "Enter a positive number.";
  else if (!isMultiple(values.quantity, config.stepSize)) errors.quantity = `The quantity must be a multiple of ${config.stepSize}.`;
  else if (compare(values.quantity, config.minQuantity) < 0) errors.quantity = `The minimum quantity is ${config.minQuantity}.`;
  if (values.postOnly && values.orderType === "Market") errors.postOnly = "A market order cannot be post-only.";
  if (values.postOnly && values.ioc) errors.postOnly = "A post-only order rests on the book; it cannot also be immediate-or-cancel.";
  return errors;
}

// Which field a server refusal is about; unknown refusals (KYC, frozen account...) go above the button.
function serverErrorField(error) {
  const message = error.message.toLowerCase();
  if (error.code === "FORBIDDEN" || error.code === "UNAUTHORIZED") return null;
  if (error.code === "INVALID_PRICE" || message.includes("price")) return "price";
  if (error.code === "INVALID_QUANTITY" || error.code === "INSUFFICIENT_FUNDS" || message.includes("quantity")) return "quantity";
  if (message.includes("post-only") || message.includes("immediately match")) return "postOnly";
  if (message.includes("side")) return "side";
  return null;
}

async function submitOrder(event) {
  event.preventDefault();
  clearMessages();
  const values = {
    side: form.elements.side.value,
    orderType: form.elements.orderType.value,
    price: form.elements.price.value.trim(),
    quantity: form.elements.quantity.value.trim(),
    postOnly: form.elements.postOnly.checked,
    ioc: form.elements.ioc.checked,
  };
  const errors = validate(values);
  const invalid = Object.keys(errors);
  if (invalid.length) {
    for (const field of invalid) fieldError(field, errors[field]);
    const first = form.elements[invalid[0]];
    if (first && first.focus) first.focus();
    return;
  }
  const body = {
    symbol: SYMBOL,
    side: values.side,
    orderType: values.orderType,
    quantity: values.quantity,
    timeInForce: values.ioc ? "IOC" : "GTC",
  };
  if (values.orderType === "Limit") {
    body.price = values.price;
    body.postOnly = values.postOnly;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const order = await api("POST", "/api/v1/order", { body });
    $("order-form-status").textContent = `Order ${order.id} placed: ${order.status}.`;
    refresh("openOrders", "history", "fills", "balances");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const field = serverErrorField(error);
    if (field) fieldError(field, error.message);
    else $("order-form-error").textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

async function cancelOrder(button) {
  $("open-orders-error").textContent = "";
  button.disabled = true;
  try {
    await api("DELETE", "/api/v1/order", { body: { symbol: SYMBOL, orderId: button.dataset.cancel } });
  } catch (error) {
    $("open-orders-error").textContent = error.message;
    button.disabled = false;
  }
  refresh("openOrders", "history", "balances");
}

// --- the stream -------------------------------------------------------------------------------------

function publicStreams() {
  return [`depth.${SYMBOL}`, `trade.${SYMBOL}`, `kline.${interval}.${SYMBOL}`];
}

function privateStreams() {
  return config.authenticated ? [`account.orderUpdate.${SYMBOL}`, "account.balanceUpdate"] : [];
}

function onOpen() {
  stream.subscribe([...publicStreams(), ...privateStreams()]);
  // Subscribed first, then read: deltas from here on are buffered until the snapshot is in.
  resyncBook();
  loadTrades().catch((error) => console.warn("trades failed", error));
  loadCandles().catch((error) => console.warn("candles failed", error));
  refresh("openOrders", "history", "fills", "balances");
}

function onFrame(frame) {
  if (frame.error) {
    console.warn("stream error", frame.error);
    return;
  }
  const { stream: name, data } = frame;
  if (!name || !data) return;
  if (name === `depth.${SYMBOL}`) onDepth(data);
  else if (name === `trade.${SYMBOL}`) onTrade(data);
  else if (name === `kline.${interval}.${SYMBOL}`) onKline(data);
  else if (name.startsWith("account.orderUpdate")) {
    refresh("openOrders", "history", "balances");
    if (data.e === "orderFill") refresh("fills");
  } else if (name === "account.balanceUpdate") refresh("balances");
}

const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
const stream = new StreamSocket({
  url: `${scheme}//${window.location.host}/`,
  statusElement: $("socket-status"),
  onOpen,
  onFrame,
});

// --- wiring -----------------------------------------------------------------------------------------

$("chart-interval").addEventListener("change", (event) => {
  const previous = interval;
  interval = event.target.value;
  stream.unsubscribe([`kline.${previous}.${SYMBOL}`]);
  stream.subscribe([`kline.${interval}.${SYMBOL}`]);
  candles = [];
  redraw();
  loadCandles().catch((error) => console.warn("candles failed", error));
});

if (form) {
  form.addEventListener("submit", submitOrder);
  form.elements.orderType.addEventListener("change", syncFormState);
  for (const radio of form.elements.side) radio.addEventListener("change", syncFormState);
  syncFormState();
  // Clicking a level of the book puts its price in the form.
  $("order-book").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-price]");
    if (row && form.elements.orderType.value === "Limit") form.elements.price.value = row.dataset.price;
  });
  $("open-orders").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-cancel]");
    if (button) cancelOrder(button);
  });
}

window.addEventListener("resize", redraw);
window.addEventListener("online", () => stream.reconnectSoon());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") stream.reconnectSoon();
});

redraw();
loadCandles().catch((error) => console.warn("candles failed", error));
stream.connect();
