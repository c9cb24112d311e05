// One WebSocket to the server's stream endpoint, reconnected with exponential backoff and jitter.
// `onOpen` runs on every (re)connection: the caller subscribes there and re-fetches its REST
// snapshots, so whatever happened while the socket was down is not missed.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export class StreamSocket {
  constructor({ url, statusElement, onOpen, onFrame }) {
    this.url = url;
    this.statusElement = statusElement;
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.setStatus("offline");
  }

  setStatus(state) {
    if (!this.statusElement) return;
    this.statusElement.textContent = state;
    this.statusElement.dataset.state = state;
  }

  connect() {
    if (this.stopped) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.setStatus("live");
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      this.onFrame(frame);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.scheduleReconnect();
    });
    socket.addEventListener("error", () => socket.close());
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    const ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  // Reconnect now (the browser came back online or the tab became visible), not at the backoff's pace.
  reconnectSoon() {
    if (this.socket || this.stopped) return;
    this.attempt = 0;
    clearTimeout(this.timer);
    this.connect();
  }

  // Close and reconnect: used when the page finds its book out of step with the stream.
  restart() {
    if (this.socket) this.socket.close();
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  subscribe(streams) {
    return streams.length ? this.send({ method: "SUBSCRIBE", params: streams }) : true;
  }

  unsubscribe(streams) {
    return streams.length ? this.send({ method: "UNSUBSCRIBE", params: streams }) : true;
  }
}
