// Candlesticks on a <canvas>. Prices are exact decimal strings everywhere else; here they become
// numbers only to place pixels, which is all a chart needs.

import { fixed } from "./decimal.js";

const COLORS = {
  up: "#3fb950",
  down: "#f85149",
  grid: "#2d3640",
  text: "#9aa7b4",
  background: "#161b22",
};
const AXIS_WIDTH = 72;
const TIME_HEIGHT = 22;
const PADDING = 8;

function niceStep(range, lines) {
  const raw = range / Math.max(1, lines);
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  const nice = scaled < 1.5 ? 1 : scaled < 3 ? 2 : scaled < 7 ? 5 : 10;
  return nice * power;
}

// candles: [{start: "YYYY-MM-DD HH:MM:SS", open, high, low, close}] oldest first (strings).
export function drawCandles(canvas, candles, { pricePlaces }) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(200, Math.floor(canvas.clientWidth || canvas.width));
  const height = Math.max(160, Math.floor(canvas.clientHeight || canvas.height));
  if (canvas.width !== width * ratio || canvas.height !== height * ratio) {
    canvas.width = width * ratio;
    canvas.height = height * ratio;
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.fillStyle = COLORS.background;
  context.fillRect(0, 0, width, height);
  context.font = "12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
  if (!candles.length) {
    context.fillStyle = COLORS.text;
    context.textAlign = "center";
    context.fillText("No trades in this range yet", width / 2, height / 2);
    return;
  }
  const plotWidth = width - AXIS_WIDTH - PADDING;
  const plotHeight = height - TIME_HEIGHT - PADDING * 2;
  const visible = candles.slice(-Math.max(10, Math.floor(plotWidth / 6)));
  let low = Math.min(...visible.map((c) => Number(c.low)));
  let high = Math.max(...visible.map((c) => Number(c.high)));
  if (high === low) {
    high += high * 0.001 || 1;
    low -= low * 0.001 || 1;
  }
  const y = (price) => PADDING + ((high - Number(price)) / (high - low)) * plotHeight;

  context.strokeStyle = COLORS.grid;
  context.fillStyle = COLORS.text;
  context.textAlign = "left";
  context.textBaseline = "middle";
  context.lineWidth = 1;
  const step = niceStep(high - low, 5);
  for (let level = Math.ceil(low / step) * step; level <= high; level += step) {
    const yy = Math.round(y(level)) + 0.5;
    context.beginPath();
    context.moveTo(0, yy);
    context.lineTo(plotWidth, yy);
    context.stroke();
    context.fillText(level.toFixed(pricePlaces), plotWidth + 6, yy);
  }

  const slot = plotWidth / visible.length;
  const body = Math.max(1, Math.min(12, slot * 0.7));
  visible.forEach((candle, index) => {
    const x = index * slot + slot / 2;
    const rising = Number(candle.close) >= Number(candle.open);
    context.strokeStyle = context.fillStyle = rising ? COLORS.up : COLORS.down;
    context.beginPath();
    context.moveTo(Math.round(x) + 0.5, y(candle.high));
    context.lineTo(Math.round(x) + 0.5, y(candle.low));
    context.stroke();
    const top = y(Math.max(Number(candle.open), Number(candle.close)));
    const bottom = y(Math.min(Number(candle.open), Number(candle.close)));
    context.fillRect(x - body / 2, top, body, Math.max(1, bottom - top));
  });

  context.fillStyle = COLORS.text;
  context.textAlign = "center";
  context.textBaseline = "bottom";
  const labels = Math.max(1, Math.floor(plotWidth / 110));
  const every = Math.max(1, Math.ceil(visible.length / labels));
  for (let index = 0; index < visible.length; index += every) {
    const label = visible[index].start.slice(5, 16);
    context.fillText(label, index * slot + slot / 2, height - 4);
  }

  const last = visible[visible.length - 1];
  const lastY = Math.round(y(last.close)) + 0.5;
  context.fillStyle = Number(last.close) >= Number(last.open) ? COLORS.up : COLORS.down;
  context.fillRect(plotWidth, lastY - 9, AXIS_WIDTH, 18);
  context.fillStyle = "#06141d";
  context.textAlign = "left";
  context.textBaseline = "middle";
  context.fillText(fixed(last.close, pricePlaces), plotWidth + 6, lastY);
}
