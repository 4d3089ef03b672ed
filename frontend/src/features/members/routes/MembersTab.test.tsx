import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Outlet } from "react-router";
import { describe, expect, it } from "vitest";
import type { Project } from "@/api/types";
import type { ProjectAccess } from "@/features/auth/usePermissions";
import { page, renderRoutes, stubFetch } from "@/test/utils";
import MembersTab from "./MembersTab";

const project = { id: 1, name: "web", public: false, member_count: 2 } as Project;
const access = (granted: string[]): ProjectAccess => ({ role: "project_admin", loaded: true, can: (permission) => granted.includes(permission) });
const members = page([
  { id: 1, username: "ann", role: "project_admin", created_at: "2026-11-01T00:00:00Z", updated_at: "" },
  { id: 2, username: "bob", role: "developer", created_at: "2026-11-02T00:00:00Z", updated_at: "" },
]);

const render = (granted: string[]) =>
  renderRoutes([{ path: "/projects/:project", element: <Outlet context={{ project, access: access(granted) }} />, children: [{ path: "members", element: <MembersTab /> }] }], "/projects/web/members");

describe("the members tab", () => {
  it("changes a member's role", async () => {
    const calls = stubFetch({
      "GET /projects/web/members": { body: members },
      "PATCH /projects/web/members/bob": { body: { ...members.results[1], role: "maintainer" } },
    });
    render(["member:list", "member:create", "member:update", "member:delete"]);
    await userEvent.selectOptions(await screen.findByRole("combobox", { name: "Role of bob" }), "maintainer");
    expect(calls.find((call) => call.method === "PATCH")?.body).toEqual({ role: "maintainer" });
  });

  it("adds a member by username with a role", async () => {
    const calls = stubFetch({
      "GET /projects/web/members": { body: members },
      "GET /users/current/permissions": { body: { system: { can_search_users: false }, projects: {} } },
      "POST /projects/web/members": { status: 201, body: { id: 3, username: "cy", role: "guest", created_at: "", updated_at: "" } },
    });
    render(["member:list", "member:create"]);
    await userEvent.click(await screen.findByRole("button", { name: "Add member" }));
    const dialog = screen.getByRole("dialog", { name: "Add a member" });
    await userEvent.type(within(dialog).getByLabelText("Username"), "cy");
    await userEvent.selectOptions(within(dialog).getByLabelText("Role"), "guest");
    await userEvent.click(within(dialog).getByRole("button", { name: "Add member" }));
    expect(calls.find((call) => call.method === "POST")?.body).toEqual({ username: "cy", role: "guest" });
  });

  it("shows roles read-only, with no add or remove, to those who may only list", async () => {
    stubFetch({ "GET /projects/web/members": { body: members } });
    render(["member:list"]);
    expect(await screen.findByText("Developer")).toBeInTheDocument();
    expect(screen.queryByRole("combobox", { name: /Role of/ })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Add member|Remove/ })).not.toBeInTheDocument();
  });
});
