import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderAt, stubFetch } from "@/test/utils";
import { CreateRobotDialog } from "./CreateRobotDialog";

const created = (project: string | null) => ({
  id: 1, name: "ci", full_name: project ? `robot$${project}+ci` : "robot$ci", level: project ? "project" : "system", project,
  description: "", disabled: false, expires_at: null, expired: false, permissions: [], created_by: "ann", created_at: "", updated_at: "",
  secret_refreshed_at: null, secret: "berth_robot_SECRET",
});

describe("creating a robot account", () => {
  it("sends the chosen permissions and shows the secret once", async () => {
    const calls = stubFetch({ "POST /projects/web/robots": { status: 201, body: created("web") }, "GET /systeminfo": { body: { registry_url: "berth.test" } } });
    renderAt(<CreateRobotDialog project="web" open onClose={() => {}} />);
    await userEvent.type(screen.getByLabelText("Name", { exact: true }), "ci");
    await userEvent.click(screen.getByRole("button", { name: "Push and pull (CI)" }));
    await userEvent.click(screen.getByRole("checkbox", { name: "Tag delete" }));
    await userEvent.selectOptions(screen.getByLabelText("Expires after"), "never");
    await userEvent.click(screen.getByRole("button", { name: "Create robot account" }));
    const dialog = await screen.findByRole("dialog", { name: "Robot account created" });
    expect(within(dialog).getByTestId("secret")).toHaveTextContent("berth_robot_SECRET");
    expect(within(dialog).getByText(/docker login -u 'robot\$web\+ci' berth.test/)).toBeInTheDocument();
    const body = calls.find((call) => call.method === "POST")?.body as { permissions: { resource: string; action: string }[]; expires_in_days: null };
    expect(body.expires_in_days).toBeNull();
    expect(body.permissions.map((grant) => `${grant.resource}:${grant.action}`).sort()).toEqual(
      ["artifact:read", "repository:pull", "repository:push", "tag:create", "tag:delete"],
    );
  });

  it("scopes a system robot's permissions to the projects given", async () => {
    const calls = stubFetch({ "POST /robots": { status: 201, body: created(null) } });
    renderAt(<CreateRobotDialog open onClose={() => {}} />);
    await userEvent.type(screen.getByLabelText("Name", { exact: true }), "ci");
    await userEvent.clear(screen.getByLabelText("Projects"));
    await userEvent.type(screen.getByLabelText("Projects"), "web");
    await userEvent.click(screen.getByRole("button", { name: "Create robot account" }));
    await screen.findByRole("dialog", { name: "Robot account created" });
    expect((calls.find((call) => call.method === "POST")?.body as { permissions: unknown[] }).permissions).toEqual([
      { resource: "repository", action: "pull", project: "web" },
    ]);
  });
});
