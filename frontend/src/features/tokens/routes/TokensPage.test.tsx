import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { page, renderAt, stubFetch } from "@/test/utils";
import TokensPage from "./TokensPage";

const token = { id: 7, name: "laptop", prefix: "berth_pat_ab", scopes: ["api:read", "registry:write"], created_at: "2026-11-01T00:00:00Z", expires_at: null, last_used_at: null, expired: false };

describe("personal tokens", () => {
  it("shows a new token's secret once, then only its prefix", async () => {
    let created = false;
    const calls = stubFetch({
      "GET /users/current": { body: { username: "dana" } },
      "GET /systeminfo": { body: { registry_url: "berth.test", external_url: "http://berth.test", auth_mode: "local", read_only: false } },
      "GET /users/current/tokens": () => ({ body: page(created ? [token] : []) }),
      "POST /users/current/tokens": () => {
        created = true;
        return { status: 201, body: { ...token, secret: "berth_pat_ab_SECRET" } };
      },
    });
    renderAt(<TokensPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Create a token" }));
    const dialog = screen.getByRole("dialog", { name: "New personal token" });
    await userEvent.type(within(dialog).getByLabelText("Name"), "laptop");
    await userEvent.selectOptions(within(dialog).getByLabelText("Expires after"), "90");
    // registry:write comes ticked, for docker login; reading the API is chosen on top of it.
    expect(within(dialog).getByRole("checkbox", { name: /registry:write/ })).toBeChecked();
    await userEvent.click(within(dialog).getByRole("checkbox", { name: /api:read/ }));
    await userEvent.click(within(dialog).getByRole("button", { name: "Create token" }));
    const done = await screen.findByRole("dialog", { name: "Token created" });
    expect(within(done).getByTestId("secret")).toHaveTextContent("berth_pat_ab_SECRET");
    expect(within(done).getByText(/docker login -u dana berth.test/)).toBeInTheDocument();
    expect(calls.find((call) => call.method === "POST")?.body).toEqual({ name: "laptop", expires_in_days: 90, scopes: ["registry:write", "api:read"] });
    await userEvent.click(within(done).getByRole("button", { name: "Done" }));
    expect(await screen.findByText("berth_pat_ab…")).toBeInTheDocument();
    expect(screen.getByText("api:read")).toBeInTheDocument();
    expect(screen.queryByText("berth_pat_ab_SECRET")).not.toBeInTheDocument();
  });

  it("revokes a token after confirmation", async () => {
    const calls = stubFetch({
      "GET /users/current": { body: { username: "dana" } },
      "GET /users/current/tokens": { body: page([token]) },
      "DELETE /users/current/tokens/7": { status: 204 },
    });
    renderAt(<TokensPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Revoke laptop" }));
    await userEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Revoke token" }));
    expect(calls.filter((call) => call.method === "DELETE").map((call) => call.path)).toEqual(["/users/current/tokens/7"]);
  });
});
