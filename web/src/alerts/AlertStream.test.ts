import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alert } from "../test/fixtures";
import { FakeEventSource } from "../test/server";
import { AlertStream, type StreamStatus } from "./AlertStream";

describe("AlertStream", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.instances = [];
  });
  afterEach(() => vi.useRealTimers());

  it("opens with a ticket, delivers alerts, and reconnects with a fresh ticket after the last event", async () => {
    let n = 0;
    const received: string[] = [];
    const statuses: StreamStatus[] = [];
    const stream = new AlertStream({
      getTicket: () => Promise.resolve(`ticket-${++n}`),
      onAlert: (a) => received.push(a.title),
      onStatus: (s) => statuses.push(s),
      createEventSource: (url) => new FakeEventSource(url) as unknown as EventSource,
    });
    stream.start();
    await vi.waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    const first = FakeEventSource.instances[0]!;
    expect(first.url).toBe("/api/v1/alerts/stream?ticket=ticket-1");
    first.open();
    first.emit("alert", alert({ title: "One" }), "id-1");
    expect(received).toEqual(["One"]);

    first.fail();
    expect(first.closed).toBe(true);
    expect(statuses.at(-1)).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1000);
    const second = FakeEventSource.instances[1]!;
    expect(second.url).toBe("/api/v1/alerts/stream?ticket=ticket-2&last_event_id=id-1");
    second.open();
    expect(statuses.at(-1)).toBe("live");
    stream.stop();
    expect(second.closed).toBe(true);
  });

  it("backs off while tickets cannot be had", async () => {
    const getTicket = vi.fn(() => Promise.reject(new Error("offline")));
    const stream = new AlertStream({
      getTicket,
      onAlert: () => {},
      onStatus: () => {},
      createEventSource: (url) => new FakeEventSource(url) as unknown as EventSource,
    });
    stream.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(getTicket).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getTicket).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1999);
    expect(getTicket).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(getTicket).toHaveBeenCalledTimes(3);
    stream.stop();
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});
