// A local order book kept from a REST snapshot plus the `depth.<symbol>` stream.
//
// The rules (Backpack's, as Binance's): each delta carries `U` (first update id) and `u` (last);
// level sizes are absolute and "0" removes a level. Deltas that arrive before the snapshot are
// buffered; once the snapshot (with `lastUpdateId`) is in, a delta with u <= lastUpdateId is old
// and dropped, and every delta applied must start right after the last one (U <= last + 1): a
// larger U is a gap, the book is wrong, and only a fresh snapshot fixes it.

import { compare, isZero, normalize } from "./decimal.js";

export class DepthBook {
  constructor() {
    this.asks = new Map(); // normalised price -> quantity text
    this.bids = new Map();
    this.lastUpdateId = null;
    this.buffer = [];
    this.synced = false;
  }

  // Forget the book and buffer deltas until the next snapshot.
  reset() {
    this.synced = false;
    this.buffer = [];
  }

  // Install a snapshot and replay the buffered deltas. Returns false on a gap (resync again).
  loadSnapshot(snapshot) {
    this.asks = new Map(snapshot.asks.map(([price, quantity]) => [normalize(price), quantity]));
    this.bids = new Map(snapshot.bids.map(([price, quantity]) => [normalize(price), quantity]));
    this.lastUpdateId = Number(snapshot.lastUpdateId);
    this.synced = true;
    const buffered = this.buffer;
    this.buffer = [];
    return buffered.every((delta) => this.apply(delta) !== "gap");
  }

  // "buffered", "stale", "applied" or "gap".
  apply(delta) {
    if (!this.synced) {
      this.buffer.push(delta);
      return "buffered";
    }
    const first = Number(delta.U);
    const last = Number(delta.u);
    if (last <= this.lastUpdateId) return "stale";
    if (first > this.lastUpdateId + 1) {
      this.synced = false;
      return "gap";
    }
    for (const [price, quantity] of delta.a || []) this.setLevel(this.asks, price, quantity);
    for (const [price, quantity] of delta.b || []) this.setLevel(this.bids, price, quantity);
    this.lastUpdateId = last;
    return "applied";
  }

  setLevel(side, price, quantity) {
    const key = normalize(price);
    if (isZero(quantity)) side.delete(key);
    else side.set(key, quantity);
  }

  // Best first: asks ascending, bids descending; at most `depth` levels each.
  levels(depth) {
    const asks = [...this.asks.entries()].sort((x, y) => compare(x[0], y[0])).slice(0, depth);
    const bids = [...this.bids.entries()].sort((x, y) => compare(y[0], x[0])).slice(0, depth);
    return { asks, bids };
  }
}
