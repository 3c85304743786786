import type { Problem } from "./types";

/** Codes whose cure is a bigger plan: the UI offers the upgrade page next to them. */
export const UPGRADE_CODES = new Set(["plan_limit_reached", "storage_limit_reached", "feature_not_in_plan"]);

/** The code of a 402 for a change that waits for its invoice to be paid (`hosted_invoice_url`). */
export const PAYMENT_REQUIRED = "payment_required";

/** The code of a 412: the `If-Match` version is no longer the current one, and nothing changed. */
export const STALE_VERSION_CODE = "precondition_failed";

/** An RFC 9457 problem from the API (or one made up for a network failure), thrown by `call`. */
export class ApiProblem extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiProblem";
    this.problem = problem;
  }

  get code(): string {
    return this.problem.code;
  }

  get status(): number {
    return this.problem.status;
  }

  /** Per-field messages of a `validation_failed` (or `feature_not_in_plan`) problem. */
  get fieldErrors(): Record<string, string[]> {
    return this.problem.errors ?? {};
  }

  get wantsUpgrade(): boolean {
    return UPGRADE_CODES.has(this.problem.code);
  }

  /** A write refused because its `If-Match` named a version someone else has since replaced. */
  get isStaleVersion(): boolean {
    return this.problem.code === STALE_VERSION_CODE;
  }
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const candidate = body as Record<string, unknown>;
  return typeof candidate.code === "string" && typeof candidate.status === "number";
}

/**
 * The problem of a stale edit found before writing: what the user saw is no longer the current version, as
 * when a list (which carries no versions) shows a row that someone else has changed since.
 */
export function staleVersion(): ApiProblem {
  return new ApiProblem({
    type: "about:blank",
    title: "Changed since you opened it",
    status: 412,
    code: STALE_VERSION_CODE,
    detail: "Someone else changed this since you opened it; nothing was changed.",
    request_id: null,
  });
}

/** Turns whatever an error response carried into an `ApiProblem`. */
export function toProblem(body: unknown, response: Response | undefined): ApiProblem {
  if (isProblem(body)) return new ApiProblem(body);
  const status = response?.status ?? 0;
  return new ApiProblem({
    type: "about:blank",
    title: response?.statusText || "Error",
    status,
    code: status === 0 ? "network_error" : "unexpected_response",
    detail:
      status === 0
        ? "The server could not be reached. Check your connection and try again."
        : `The server answered ${status} ${response?.statusText ?? ""}`.trim() + ".",
    request_id: response?.headers.get("x-request-id") ?? null,
  });
}

/** Any thrown value as an `ApiProblem` (network failures become `network_error`). */
export function asProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  return toProblem(undefined, undefined);
}

/** The messages for one field, joined, or undefined: ready for an input's `error` prop. */
export function fieldError(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiProblem)) return undefined;
  const messages = error.fieldErrors[field];
  return messages && messages.length > 0 ? messages.join("; ") : undefined;
}
