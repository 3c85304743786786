import type { Alert } from "../api/types";

export type StreamStatus = "connecting" | "live" | "reconnecting";

export interface AlertStreamOptions {
  /** A fresh single-use ticket for each (re)connection. */
  getTicket: () => Promise<string>;
  onAlert: (alert: Alert) => void;
  onStatus: (status: StreamStatus) => void;
  /**
   * The stream is (re)connected. A new stream (no `last_event_id`, or one the server does not know) starts
   * after the newest alert, so whatever was raised between the lists being read and the stream subscribing
   * is never sent: refetch the lists here.
   */
  onOpen?: () => void;
  /** For tests. */
  createEventSource?: (url: string) => EventSource;
  baseUrl?: string;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * The live alert feed: an EventSource on /api/v1/alerts/stream with a ticket. A ticket works once, so the
 * browser's own reconnection cannot serve; on any error this closes the source and opens a new one with a
 * fresh ticket and `last_event_id`, backing off up to 30 s, so no alert is missed across the gap.
 */
export class AlertStream {
  private source: EventSource | null = null;
  private lastEventId: string | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private backoff = 1000;
  private stopped = false;

  constructor(private readonly options: AlertStreamOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  private url(ticket: string): string {
    const params = new URLSearchParams({ ticket });
    if (this.lastEventId) params.set("last_event_id", this.lastEventId);
    return `${this.options.baseUrl ?? ""}/api/v1/alerts/stream?${params.toString()}`;
  }

  private async connect(): Promise<void> {
    this.options.onStatus(this.lastEventId === null && this.backoff === 1000 ? "connecting" : "reconnecting");
    let ticket: string;
    try {
      ticket = await this.options.getTicket();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const create = this.options.createEventSource ?? ((url: string) => new EventSource(url));
    const source = create(this.url(ticket));
    this.source = source;
    source.onopen = () => {
      this.backoff = 1000;
      this.options.onStatus("live");
      this.options.onOpen?.();
    };
    source.addEventListener("alert", (event) => {
      const message = event as MessageEvent<string>;
      if (message.lastEventId) this.lastEventId = message.lastEventId;
      try {
        this.options.onAlert(JSON.parse(message.data) as Alert);
      } catch {
        // A malformed event is skipped; the list refetches on the next one.
      }
    });
    source.onerror = () => {
      source.close();
      if (this.source === source) this.source = null;
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.options.onStatus("reconnecting");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }
}
