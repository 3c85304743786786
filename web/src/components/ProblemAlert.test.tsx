import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ApiProblem } from "../api/problem";
import { renderWithProviders } from "../test/render";
import { ProblemAlert } from "./ProblemAlert";

function problem(code: string, extra: Partial<ApiProblem["problem"]> = {}) {
  return new ApiProblem({
    type: `https://docs.vigil.dev/problems/${code}`,
    title: "Forbidden",
    status: 403,
    code,
    detail: "The plan does not allow this.",
    request_id: "req-42",
    ...extra,
  });
}

describe("ProblemAlert", () => {
  it("shows the detail and the request id to quote", () => {
    renderWithProviders(
      <ProblemAlert error={problem("forbidden", { detail: "This action needs the OWNER role." })} />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("This action needs the OWNER role.");
    expect(screen.getByText("Request id: req-42")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: /upgrade/i })).not.toBeInTheDocument();
  });

  it("offers the upgrade page for a plan limit, with the usage and the tier that allows more", () => {
    renderWithProviders(
      <ProblemAlert
        error={problem("plan_limit_reached", {
          plan_limit: { limit: "max_employees", max: 5, current_usage: 5, tier: "FREE", upgrade_tier: "PRO" },
        })}
      />,
    );
    expect(screen.getByText("Employees: 5 of 5 on the FREE plan.")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Upgrade to Pro" })).toHaveAttribute("href", "/billing/upgrade");
  });

  it("shows a storage limit in bytes as sizes", () => {
    renderWithProviders(
      <ProblemAlert
        error={problem("storage_limit_reached", {
          plan_limit: {
            limit: "max_storage_gb",
            max: 1_000_000_000,
            current_usage: 1_000_000_000,
            tier: "FREE",
            upgrade_tier: "PRO",
          },
        })}
      />,
    );
    expect(screen.getByText("Storage: 1 GB of 1 GB on the FREE plan.")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Upgrade to Pro" })).toBeInTheDocument();
  });

  it("offers the upgrade page for a feature the plan lacks", () => {
    renderWithProviders(
      <ProblemAlert
        error={problem("feature_not_in_plan", { errors: { screenshots_enabled: ["needs PRO"] } })}
      />,
    );
    expect(screen.getByRole("link", { name: "Upgrade your plan" })).toHaveAttribute(
      "href",
      "/billing/upgrade",
    );
    expect(screen.getByText("Screenshots enabled: needs PRO")).toBeInTheDocument();
  });

  it("lists only the field messages no input shows", () => {
    renderWithProviders(
      <ProblemAlert
        error={problem("validation_failed", {
          errors: { email: ["must be a valid email address"], tier: ["unknown"] },
        })}
        fieldsShown={["email"]}
      />,
    );
    expect(screen.queryByText(/must be a valid email address/)).not.toBeInTheDocument();
    expect(screen.getByText("Tier: unknown")).toBeInTheDocument();
  });

  it("explains a network failure", () => {
    renderWithProviders(<ProblemAlert error={new TypeError("Failed to fetch")} />);
    expect(screen.getByRole("alert")).toHaveTextContent("The server could not be reached.");
  });
});
