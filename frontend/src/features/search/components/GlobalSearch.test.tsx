import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderRoutes, stubFetch } from "@/test/utils";
import { GlobalSearch } from "./GlobalSearch";

describe("the global search", () => {
  it("lists matching projects and repositories and opens the chosen one with the keyboard", async () => {
    stubFetch({
      "GET /search": { body: { projects: [{ name: "web", public: false }], repositories: [{ name: "web/team/app", project: "web" }] } },
    });
    const { router } = renderRoutes([{ path: "*", element: <GlobalSearch /> }], "/");
    const box = screen.getByRole("combobox", { name: "Search projects and repositories" });
    await userEvent.type(box, "app");
    expect(await screen.findByRole("option", { name: /web\/team\/app/ })).toBeInTheDocument();
    await userEvent.keyboard("{ArrowDown}{Enter}");
    expect(router.state.location.pathname).toBe("/projects/web/repositories/team%2Fapp");
  });

  it("says when nothing visible matches", async () => {
    stubFetch({ "GET /search": { body: { projects: [], repositories: [] } } });
    renderRoutes([{ path: "*", element: <GlobalSearch /> }], "/");
    await userEvent.type(screen.getByRole("combobox"), "zzz");
    expect(await screen.findByText("Nothing visible to you matches “zzz”.")).toBeInTheDocument();
  });
});
