// Exact decimal strings for prices, quantities and balances: BigInt units and a scale, never a
// binary float, so "0.1" + "0.2" is "0.3" and a quantity is checked against the step exactly.

const DECIMAL_RE = /^(-)?(\d*)(?:\.(\d*))?$/;

// "123.450" -> {units: 123450n, scale: 3}; null when the text is not a plain decimal.
export function parse(text) {
  const match = DECIMAL_RE.exec(String(text ?? "").trim());
  if (!match || (match[2] === "" && !match[3])) return null;
  const fraction = match[3] || "";
  let units = BigInt((match[2] || "0") + fraction);
  if (match[1]) units = -units;
  return { units, scale: fraction.length };
}

function rescale(value, scale) {
  return value.units * 10n ** BigInt(scale - value.scale);
}

function format(units, scale) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  if (scale > 0) digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${digits}` : digits;
}

function aligned(a, b) {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  const scale = Math.max(x.scale, y.scale);
  return [rescale(x, scale), rescale(y, scale), scale];
}

// `text` with exactly `places` decimals (half away from zero when it has more).
export function fixed(text, places) {
  const value = parse(text);
  if (!value) return "";
  if (value.scale <= places) return format(rescale(value, places), places);
  const divisor = 10n ** BigInt(value.scale - places);
  let quotient = value.units / divisor;
  const remainder = value.units % divisor;
  const twice = (remainder < 0n ? -remainder : remainder) * 2n;
  if (twice >= divisor) quotient += value.units < 0n ? -1n : 1n;
  return format(quotient, places);
}

export function compare(a, b) {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function add(a, b) {
  const [x, y, scale] = aligned(a, b);
  return format(x + y, scale);
}

export function subtract(a, b) {
  const [x, y, scale] = aligned(a, b);
  return format(x - y, scale);
}

export function isZero(text) {
  const value = parse(text);
  return value !== null && value.units === 0n;
}

export function isPositive(text) {
  const value = parse(text);
  return value !== null && value.units > 0n;
}

// Whether `value` is a whole number of `step`s (a price on the tick, a quantity on the lot).
export function isMultiple(value, step) {
  const pair = aligned(value, step);
  return pair !== null && pair[1] !== 0n && pair[0] % pair[1] === 0n;
}

// One spelling per number ("1.50" and "1.5" are the same level): trailing zeros dropped.
export function normalize(text) {
  const value = parse(text);
  if (!value) return "";
  let { units, scale } = value;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return format(units, scale);
}

// What a person may type in an amount field: digits with at most one point, nothing else.
export function isWellFormed(text) {
  return /^(\d+\.?\d*|\.\d+)$/.test(String(text).trim());
}
