import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderAt, stubFetch } from "@/test/utils";
import { UserMenu } from "../components/UserMenu";
import ProfilePage from "./ProfilePage";

const dana = { id: 1, username: "dana", display_name: "Dana", email: "dana@example.org", comment: "", is_admin: false, is_active: true, created_at: "2026-11-01T10:00:00Z", updated_at: "2026-11-01T10:00:00Z", last_login: null, password_changed_at: null, source: null, source_active: true };
const refusal = (status: number, code: string, message: string, fields?: Record<string, string[]>) => ({ status, body: { errors: [{ code, message, ...(fields ? { fields } : {}) }] } });

describe("the profile page", () => {
  it("saves only what changed and shows what the API stored", async () => {
    const calls = stubFetch({
      "GET /users/current": { body: dana },
      "PATCH /users/current": (call) => ({ body: { ...dana, display_name: String((call.body as { display_name: string }).display_name).trim() } }),
    });
    renderAt(<ProfilePage />);
    const name = await screen.findByLabelText("Display name");
    expect(name).toHaveValue("Dana");
    expect(screen.getByLabelText("E-mail address")).toHaveValue("dana@example.org");
    expect(screen.getByRole("button", { name: "Save profile" })).toBeDisabled();

    await userEvent.clear(name);
    await userEvent.type(name, "  Dana Scully ");
    await userEvent.click(screen.getByRole("button", { name: "Save profile" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Your profile has been saved.");
    expect(calls.filter((call) => call.method === "PATCH").map((call) => call.body)).toEqual([{ display_name: "  Dana Scully " }]);
    expect(name).toHaveValue("Dana Scully");
    expect(screen.getByRole("button", { name: "Save profile" })).toBeDisabled();
  });

  it("shows the API's reason beside the field it concerns", async () => {
    const calls = stubFetch({
      "GET /users/current": { body: dana },
      "PATCH /users/current": refusal(400, "invalid", "invalid input", { email: ["Enter a valid email address."] }),
    });
    renderAt(<ProfilePage />);
    const email = await screen.findByLabelText("E-mail address");
    await userEvent.clear(email);
    await userEvent.type(email, "dana@");
    await userEvent.click(screen.getByRole("button", { name: "Save profile" }));
    expect(await screen.findByText("Enter a valid email address.")).toBeInTheDocument();
    expect(email).toHaveAttribute("aria-invalid", "true");
    expect(email).toHaveAccessibleDescription(expect.stringContaining("Enter a valid email address."));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(screen.queryByRole("status")).not.toBeInTheDocument();
    expect(calls.filter((call) => call.method === "PATCH").map((call) => call.body)).toEqual([{ email: "dana@" }]);
  });

  it("says when an address is taken by another account", async () => {
    stubFetch({
      "GET /users/current": { body: dana },
      "PATCH /users/current": refusal(409, "email_exists", "the e-mail address 'eve@example.org' is already in use", { email: ["already in use"] }),
    });
    renderAt(<ProfilePage />);
    const email = await screen.findByLabelText("E-mail address");
    await userEvent.clear(email);
    await userEvent.type(email, "eve@example.org");
    await userEvent.click(screen.getByRole("button", { name: "Save profile" }));
    expect(await screen.findByText("already in use")).toBeInTheDocument();
    expect(email).toHaveAttribute("aria-invalid", "true");
  });

  it("shows a refusal that concerns no field as an alert", async () => {
    stubFetch({
      "GET /users/current": { body: dana },
      "PATCH /users/current": refusal(403, "read_only", "Berth is in read-only mode"),
    });
    renderAt(<ProfilePage />);
    await userEvent.type(await screen.findByLabelText("Display name"), "!");
    await userEvent.click(screen.getByRole("button", { name: "Save profile" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Berth is in read-only mode");
  });
});

describe("the user menu", () => {
  it("leads to the profile page", async () => {
    stubFetch({});
    renderAt(<UserMenu user={dana} />);
    await userEvent.click(screen.getByRole("button", { name: /Dana/ }));
    expect(screen.getByRole("menuitem", { name: "Profile" })).toHaveAttribute("href", "/account/profile");
  });
});
