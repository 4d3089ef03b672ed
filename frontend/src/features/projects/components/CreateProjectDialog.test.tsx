import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderRoutes, stubFetch } from "@/test/utils";
import { CreateProjectDialog, projectNameProblem } from "./CreateProjectDialog";

const routes = [
  { path: "/projects", element: <CreateProjectDialog open onClose={() => {}} /> },
  { path: "/projects/:project", element: <h1>project page</h1> },
];

describe("the create-project dialog", () => {
  it("states the name rule while typing and keeps Create disabled", async () => {
    stubFetch({});
    renderRoutes(routes, "/projects");
    await userEvent.type(screen.getByLabelText("Name"), "My_App");
    expect(screen.getByText("Use lowercase letters only.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Create project" })).toBeDisabled();
  });

  it("creates the project and opens it", async () => {
    const calls = stubFetch({ "POST /projects": { status: 201, body: { id: 1, name: "web", public: true } } });
    const { router } = renderRoutes(routes, "/projects");
    await userEvent.type(screen.getByLabelText("Name"), "web");
    await userEvent.click(screen.getByLabelText(/Public/));
    await userEvent.click(screen.getByRole("button", { name: "Create project" }));
    expect(await screen.findByRole("heading", { name: "project page" })).toBeInTheDocument();
    expect(calls[0].body).toEqual({ name: "web", public: true, description: "" });
    expect(router.state.location.pathname).toBe("/projects/web");
  });

  it("shows the API's refusal beside the field it concerns", async () => {
    stubFetch({
      "POST /projects": { status: 409, body: { errors: [{ code: "conflict", message: "name: taken", fields: { name: ["project web already exists"] } }] } },
    });
    renderRoutes(routes, "/projects");
    await userEvent.type(screen.getByLabelText("Name"), "web");
    await userEvent.click(screen.getByRole("button", { name: "Create project" }));
    expect(await screen.findByText("project web already exists")).toBeInTheDocument();
  });
});

describe("project name rules", () => {
  it.each([
    ["web", undefined],
    ["team.web-2_x", undefined],
    ["-web", "Letters and digits, separated by single . _ or - (not at the start or end)."],
    ["a..b", "Letters and digits, separated by single . _ or - (not at the start or end)."],
    ["a".repeat(256), "At most 255 characters."],
  ])("%s → %s", (name, problem) => {
    expect(projectNameProblem(name)).toBe(problem);
  });
});
